"""The webhook under gunicorn, over real HTTP on loopback, as PostHog reaches it.

- Chunked bodies: `scripts/serve` on a SQLite file; http.client sends deliveries with
  `Transfer-Encoding: chunked` (no Content-Length), which gunicorn ends for the app.
- A database that stops answering: `scripts/serve` on a fresh PostgreSQL database reached
  through a TCP proxy the test controls; `blackhole()` makes it stop answering without
  resetting anything, the outage no timeout of a socket's own notices. PostgreSQL half only.
"""

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

pytestmark = pytest.mark.slow

PATH = "/api/webhooks/posthog"
SECRET = PRODUCTION_ENV["POSTHOG_WEBHOOK_SECRET"]
# PostHog's own request timeout: an answer later than this is no answer. The code before
# the database timeouts never answered at all, so this also stops that case by itself.
POSTHOG_TIMEOUT = 10
UNAVAILABLE = "The database is unavailable right now; PostHog will retry this delivery."


@contextlib.contextmanager
def gunicorn(tmp: Path, *, database_url: str, **env: str) -> Iterator[tuple[int, Path]]:
    """`scripts/serve` with one worker and one thread (so one database connection, reused
    by every request in turn); yields its port and log file."""
    port = free_port()
    log_path = tmp / "serve.log"
    environment = serve_env(
        database_url=database_url, port=port, static_root=tmp / "static", workers=1, threads=1, **env
    )
    server = start_serve(environment, log_path=log_path, port=port, path=PATH)
    try:
        yield port, log_path
    finally:
        stop_group(server)


def delivery(event_uuid: str | None = None) -> bytes:
    return encode(pageview(uuid=event_uuid or str(uuid.uuid4())))


def answer(response: http.client.HTTPResponse) -> tuple[int, dict, http.client.HTTPMessage]:
    return response.status, json.loads(response.read()), response.headers


def post(conn: http.client.HTTPConnection, body: bytes):
    conn.request(
        "POST",
        PATH,
        body=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"},
    )
    return answer(conn.getresponse())


def post_chunked(conn: http.client.HTTPConnection, body: bytes, *, chunk: int = 700):
    """POST `body` as `Transfer-Encoding: chunked` in pieces of `chunk` bytes, no Content-Length."""
    conn.putrequest("POST", PATH)
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Authorization", f"Bearer {SECRET}")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for start in range(0, len(body), chunk):
        piece = body[start : start + chunk]
        conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    conn.send(b"0\r\n\r\n")
    return answer(conn.getresponse())


# --- Chunked bodies ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory) -> Iterator[int]:
    tmp = tmp_path_factory.mktemp("webhook_chunked")
    with gunicorn(tmp, database_url=f"sqlite:///{tmp / 'db.sqlite3'}") as (port, _log):
        yield port


def test_chunked_delivery_is_counted_once(sqlite_server):
    body = delivery()
    conn = http.client.HTTPConnection("127.0.0.1", sqlite_server, timeout=30)
    try:
        status, document, _ = post_chunked(conn, body)
        assert (status, document.get("status")) == (HTTPStatus.OK, "counted"), document
        status, document, _ = post_chunked(conn, body)  # PostHog's retry of the same event
        assert (status, document.get("status")) == (HTTPStatus.OK, "duplicate"), document
    finally:
        conn.close()


def test_oversized_chunked_body_is_413_and_the_connection_stays_usable(sqlite_server):
    body = pageview()
    body["event"]["properties"]["padding"] = "x" * 100_000  # over the 64 KiB default
    conn = http.client.HTTPConnection("127.0.0.1", sqlite_server, timeout=30)
    try:
        status, document, _ = post_chunked(conn, encode(body), chunk=8192)
        assert status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE, document
        assert "VISITORSYNC_WEBHOOK_MAX_BODY" in document["error"]
        # The rest of the body was read and dropped, so keep-alive survives the 413.
        status, document, _ = post_chunked(conn, delivery())
        assert (status, document.get("status")) == (HTTPStatus.OK, "counted"), document
    finally:
        conn.close()


# --- A database that stops answering -------------------------------------------------------------
def stored(direct_url: str) -> tuple[int, int]:
    """(delivery rows, pageviews of every week), read directly, not through the proxy."""
    with psycopg.connect(direct_url, connect_timeout=10) as conn:
        deliveries = conn.execute("SELECT count(*) FROM metrics_webhookdelivery").fetchone()[0]
        pageviews = conn.execute("SELECT coalesce(sum(pageviews), 0) FROM metrics_weeklymetric").fetchone()[0]
    return deliveries, pageviews


def test_silent_database_is_a_503_within_posthogs_timeout_and_the_retry_counts_once(tmp_path):
    server_url = postgres_url_or_skip()
    with fresh_postgres_database(server_url, prefix="webhook_outage") as direct_url:
        params = psycopg.conninfo.conninfo_to_dict(direct_url)
        with TcpProxy(target=(params["host"], int(params["port"]))) as proxy:
            proxied = direct_url.replace(f"@{params['host']}:{params['port']}/", f"@127.0.0.1:{proxy.port}/")
            with gunicorn(tmp_path, database_url=proxied, VISITORSYNC_LOG_LEVEL="DEBUG") as (port, log_path):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=POSTHOG_TIMEOUT)
                try:
                    status, document, _ = post(conn, delivery())
                    assert (status, document.get("status")) == (HTTPStatus.OK, "counted"), document

                    proxy.blackhole()
                    retried = delivery()
                    # First attempt: the thread's open connection waits for an answer that
                    # never comes. Second: a new connection is never established.
                    for attempt in ("open connection", "new connection"):
                        status, document, headers = post(conn, retried)
                        assert status == HTTPStatus.SERVICE_UNAVAILABLE, (attempt, document)
                        assert document == {"ok": False, "error": UNAVAILABLE}, attempt
                        assert headers["Retry-After"], attempt

                    proxy.restore()
                    # PostHog's next attempts: 503 at once until the process's probe has seen the
                    # database answer again (metrics/core/db_stall.py), then counted.
                    given_up = time.monotonic() + POSTHOG_TIMEOUT
                    status, document, _ = post(conn, retried)
                    while status == HTTPStatus.SERVICE_UNAVAILABLE and time.monotonic() < given_up:
                        time.sleep(0.25)
                        status, document, _ = post(conn, retried)
                    # "duplicate" when the first attempt's statement was already on its way (a
                    # connection that had just answered is used without a check): held by the
                    # silent network, it reached the database once it answered again and was
                    # counted then. Either way the event is counted once (asserted below).
                    assert status == HTTPStatus.OK, document
                    assert document.get("status") in {"counted", "duplicate"}, document
                    status, document, _ = post(conn, retried)
                    assert (status, document.get("status")) == (HTTPStatus.OK, "duplicate"), document
                finally:
                    conn.close()
                assert stored(direct_url) == (2, 2)
                log = log_path.read_text()
                assert "did not answer within" in log
                assert "not recorded" in log
