"""A database that stops answering holds no request longer than its limit, and cannot take
every server thread (PostgreSQL only: the limits cut sockets).

- In process: `RequestDeadline` ends a wait for an answer after its limit, and leaves alone a
  connection that is idle while its thread waits on something else (PostHog, a mail server).
- Over gunicorn: `scripts/serve` on a fresh database behind a TCP proxy whose `blackhole()`
  keeps connections open and forwards nothing. More status requests than gunicorn has threads
  wait on it, and a webhook delivery sent meanwhile must still be answered 503 within
  PostHog's timeout; each status request gets the JSON error object, never a hang.
"""

import concurrent.futures
import contextlib
import http.client
import json
import time
import uuid
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import psycopg
import pytest
from django.db import OperationalError, connection

from metrics.core.db_deadline import RequestDeadline
from metrics.http.api_errors import DATABASE_UNAVAILABLE
from tests.support.stack import (
    PRODUCTION_ENV,
    free_port,
    fresh_postgres_database,
    postgres_url_or_skip,
    serve_env,
    start_serve,
    stop_group,
)
from tests.support.tcp_proxy import TcpProxy
from tests.support.webhook_payloads import encode, pageview

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the limits shut down PostgreSQL connections' sockets"
)

WEBHOOK = "/api/webhooks/posthog"
STATUS = "/api/sync"
SECRET = PRODUCTION_ENV["POSTHOG_WEBHOOK_SECRET"]
WEBHOOK_UNAVAILABLE = "The database is unavailable right now; PostHog will retry this delivery."
# PostHog's own request timeout: an answer later than this is no answer.
POSTHOG_TIMEOUT = 10
THREADS = 4
# Small limits keep the test short; the defaults are 3, 5 and 5 s (bench/webhook_db_outage.py).
LIMITS = {
    "VISITORSYNC_REQUEST_DB_TIMEOUT": "1",
    "VISITORSYNC_WEBHOOK_DB_TIMEOUT": "2",
    "DATABASE_CONNECT_TIMEOUT": "2",
}


# --- In process ----------------------------------------------------------------------------------
@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_wait_for_an_answer_ends_at_the_limit():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    with RequestDeadline(1, setting="VISITORSYNC_REQUEST_DB_TIMEOUT") as deadline:
        started = time.monotonic()
        with pytest.raises(OperationalError), connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(20)")
        assert time.monotonic() - started < 15  # generous: the server would answer after 20 s
        assert deadline.expired
    connection.close_if_unusable_or_obsolete()  # what Django does at the end of a request
    with connection.cursor() as cursor:
        # The sleeping backend would outlive the test database: end it.
        cursor.execute("SELECT pg_terminate_backend(%s)", [backend])


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_an_idle_connection_is_left_alone_past_the_limit():
    """Between queries the thread waits on something else (here: sleeps past the limit)."""
    with RequestDeadline(0.2, setting="VISITORSYNC_REQUEST_DB_TIMEOUT") as deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (before,) = cursor.fetchone()
        time.sleep(0.6)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (after,) = cursor.fetchone()
    assert not deadline.expired
    assert after == before  # the same connection, never shut down


# --- Over gunicorn -------------------------------------------------------------------------------
@contextlib.contextmanager
def gunicorn_behind_a_proxy(tmp: Path) -> Iterator[tuple[int, TcpProxy, Path]]:
    """`scripts/serve` (one process of THREADS threads) on a fresh database reached through a
    TcpProxy; yields the port, the proxy and the server's log."""
    with fresh_postgres_database(postgres_url_or_skip(), prefix="stall") as direct_url:
        params = psycopg.conninfo.conninfo_to_dict(direct_url)
        with TcpProxy(target=(params["host"], int(params["port"]))) as proxy:
            proxied = direct_url.replace(f"@{params['host']}:{params['port']}/", f"@127.0.0.1:{proxy.port}/")
            port = free_port()
            env = serve_env(
                database_url=proxied,
                port=port,
                static_root=tmp / "static",
                workers=1,
                threads=THREADS,
                **LIMITS,
            )
            log_path = tmp / "serve.log"
            server = start_serve(env, log_path=log_path, port=port, path=STATUS)
            try:
                yield port, proxy, log_path
            finally:
                stop_group(server)


def call(port: int, method: str, path: str, *, body: bytes | None = None, timeout: float = 60):
    """(status, JSON body, headers, seconds), or (None, None, None, seconds) without an answer."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"} if body else {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        json_answer = response.headers.get("Content-Type", "").startswith("application/json")
        document = json.loads(raw) if json_answer else raw.decode(errors="replace")
        return response.status, document, response.headers, time.monotonic() - started
    except TimeoutError:
        return None, None, None, time.monotonic() - started
    finally:
        conn.close()


def wait_for(port: int, method: str, path: str, *, body: bytes | None = None, timeout: float = 30):
    """Call until the answer is not a 503 (the database answers again); that answer."""
    given_up = time.monotonic() + timeout
    while True:
        status, document, _, _ = call(port, method, path, body=body)
        if status != HTTPStatus.SERVICE_UNAVAILABLE or time.monotonic() > given_up:
            return status, document
        time.sleep(0.25)


@pytest.mark.slow
@postgresql_only
def test_a_delivery_is_answered_in_time_while_status_requests_wait_on_a_silent_database(tmp_path):
    with gunicorn_behind_a_proxy(tmp_path) as (port, proxy, log_path):
        delivery = encode(pageview(uuid=str(uuid.uuid4())))
        with concurrent.futures.ThreadPoolExecutor(max_workers=3 * THREADS) as pool:
            # Every thread opens its connection while the database still answers.
            warm = [pool.submit(call, port, "GET", STATUS) for _ in range(THREADS)]
            assert [future.result()[0] for future in warm] == [HTTPStatus.OK] * THREADS

            proxy.blackhole()
            waiting = [pool.submit(call, port, "GET", STATUS) for _ in range(3 * THREADS)]
            time.sleep(0.3)  # they hold every thread, and the rest are queued
            status, document, headers, _ = call(port, "POST", WEBHOOK, body=delivery, timeout=POSTHOG_TIMEOUT)
            assert status is not None, f"no answer to the delivery within PostHog's {POSTHOG_TIMEOUT} s"
            assert (status, document) == (
                HTTPStatus.SERVICE_UNAVAILABLE,
                {"ok": False, "error": WEBHOOK_UNAVAILABLE},
            )
            assert headers["Retry-After"]
            answers = [future.result() for future in waiting]

        for status, document, headers, _ in answers:
            # Each was answered (none waited for the whole outage), with the error object.
            unavailable = {"ok": False, "error": DATABASE_UNAVAILABLE}
            assert (status, document) == (HTTPStatus.SERVICE_UNAVAILABLE, unavailable)
            assert headers["Retry-After"]
        assert call(port, "GET", "/api/openapi.json")[0] == HTTPStatus.OK  # needs no database

        proxy.restore()
        assert wait_for(port, "GET", STATUS)[0] == HTTPStatus.OK
        status, document = wait_for(port, "POST", WEBHOOK, body=delivery)  # PostHog's retry
        assert (status, document["status"]) == (HTTPStatus.OK, "counted")

    log = log_path.read_text()
    assert "did not answer within 1 s (VISITORSYNC_REQUEST_DB_TIMEOUT): closing the connection" in log
    assert "database stalled (" in log and "database answers again after " in log
    assert "Traceback" not in log
