"""The documented production stack: nginx (deploy/nginx/visitorsync.conf) in front of gunicorn.

`scripts/serve` with gunicorn.conf.py's defaults (2 processes x 4 threads) on a fresh
PostgreSQL database, and Debian's nginx running the site file from the repository on
loopback ports, with a self-signed certificate. Everything goes over HTTP(S), as PostHog and
a browser would. The slow-client tests show the finding of issue 10: slow clients hold
every thread of gunicorn alone, and none of them through nginx.

Runs in the PostgreSQL half of scripts/test, where nginx is installed; skipped without it.
"""

import concurrent.futures
import dataclasses
import json
import uuid
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest
import requests

from tests.support.nginx import nginx_or_skip, start_proxy, tls_context
from tests.support.slow_clients import MARKER, SlowClients
from tests.support.stack import (
    free_port,
    fresh_postgres_database,
    postgres_url_or_skip,
    process_group_alive,
    serve_env,
    start_serve,
    stop_group,
)
from tests.support.webhook_payloads import pageview

pytestmark = pytest.mark.slow

SECRET = "proxy-test-webhook-secret-" + "w" * 20
SLOW_CLIENTS = 64  # 8 would do (one per thread); more, so each worker surely gets its share
SLOW_BODIES = 16  # of them drip the body of an authenticated delivery, after whole headers


@dataclasses.dataclass
class Proxied:
    gunicorn: str  # http://127.0.0.1:<port>: gunicorn alone
    gunicorn_port: int
    https: str  # nginx's TLS listener, in front of that gunicorn
    https_port: int
    http: str  # nginx's plain-http listener
    certificate: Path
    serve_log: Path

    def deliver(self, base: str, *, timeout: float) -> requests.Response:
        """One new, authenticated PostHog delivery."""
        body = json.dumps(pageview(uuid=str(uuid.uuid4()), visitor=f"person-{uuid.uuid4()}")).encode()
        return requests.post(
            f"{base}/api/webhooks/posthog",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"},
            verify=str(self.certificate),
            timeout=timeout,
        )


@pytest.fixture(scope="module")
def proxied(tmp_path_factory) -> Iterator[Proxied]:
    database = postgres_url_or_skip()
    nginx_or_skip()
    tmp = tmp_path_factory.mktemp("proxy")
    processes = []
    with fresh_postgres_database(database, prefix="proxy") as database_url:
        try:
            port = free_port()
            # gunicorn.conf.py's own sizes (no workers/threads), the ones production runs with.
            env = serve_env(
                database_url=database_url,
                port=port,
                static_root=tmp / "static",
                POSTHOG_WEBHOOK_SECRET=SECRET,
            )
            serve_log = tmp / "serve.log"
            server = start_serve(env, log_path=serve_log, port=port)
            processes.append(server)
            gunicorn = f"http://127.0.0.1:{port}"

            proxy = start_proxy(tmp, upstream_port=port)
            processes.append(proxy.process)
            yield Proxied(
                gunicorn=gunicorn,
                gunicorn_port=port,
                https=f"https://127.0.0.1:{proxy.https_port}",
                https_port=proxy.https_port,
                http=f"http://127.0.0.1:{proxy.http_port}",
                certificate=proxy.certificate,
                serve_log=serve_log,
            )
        finally:
            for process in reversed(processes):
                stop_group(process)
        left = [p.args for p in processes if process_group_alive(p.pid)]
        assert not left, f"processes still running after the test: {left}"


def test_proxy_tells_django_which_requests_came_over_https(proxied):
    # Over TLS, nginx's X-Forwarded-Proto makes Django serve the admin, with HSTS.
    login = requests.get(f"{proxied.https}/admin/login/", verify=str(proxied.certificate), timeout=30)
    assert login.status_code == HTTPStatus.OK
    assert login.headers["Strict-Transport-Security"].startswith("max-age=")
    # Over plain http the admin is redirected, even when the client claims https in a
    # header that nginx overwrites or drops (gunicorn would answer 400 to conflicting ones).
    for claim in (
        {},
        {"X-Forwarded-Proto": "https"},
        {"X-Forwarded-Ssl": "on"},
        {"X-Forwarded-Protocol": "ssl"},
    ):
        response = requests.get(
            f"{proxied.http}/admin/login/", headers=claim, allow_redirects=False, timeout=30
        )
        assert response.status_code == HTTPStatus.MOVED_PERMANENTLY, (claim, response.status_code)
        assert response.headers["Location"].startswith("https://"), claim
    # The API is never redirected (PostHog does not follow redirects).
    status = requests.get(f"{proxied.http}/api/sync", allow_redirects=False, timeout=30)
    assert status.status_code == HTTPStatus.OK


def test_proxy_lets_visitorsync_refuse_an_oversized_delivery_itself(proxied):
    # nginx's body limit is above VISITORSYNC_WEBHOOK_MAX_BODY, so PostHog gets the app's
    # JSON 413, which says what to do, rather than nginx's HTML page.
    body = json.dumps({**pageview(), "padding": "x" * 70_000}).encode()
    response = requests.post(
        f"{proxied.https}/api/webhooks/posthog",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"},
        verify=str(proxied.certificate),
        timeout=30,
    )
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert response.headers["Content-Type"] == "application/json"
    assert "VISITORSYNC_WEBHOOK_MAX_BODY" in response.json()["error"]


def test_slow_clients_hold_every_thread_of_gunicorn_alone(proxied):
    # The finding, on gunicorn without the proxy: while 64 clients each send a byte every
    # half second, a delivery is not answered at all; once they go, it is (delayed, not lost).
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        with SlowClients(
            proxied.gunicorn_port, count=SLOW_CLIENTS, bodies=SLOW_BODIES, secret=SECRET, seconds=8
        ):
            answer = pool.submit(proxied.deliver, proxied.gunicorn, timeout=60)
            done, _ = concurrent.futures.wait([answer], timeout=3)
            assert not done, f"gunicorn answered during the slow clients: {answer.result().status_code}"
        response = answer.result(timeout=60)
    assert response.status_code == HTTPStatus.OK, response.text
    assert response.json()["status"] == "counted"


def test_slow_clients_do_not_delay_a_delivery_through_the_proxy(proxied):
    log_before = proxied.serve_log.read_text()
    slow = SlowClients(
        proxied.https_port,
        count=SLOW_CLIENTS,
        bodies=SLOW_BODIES,
        secret=SECRET,
        seconds=8,
        tls=tls_context(proxied.certificate),
    )
    with slow:
        try:
            # Generous: through nginx it takes milliseconds (bench/webhook_slow_clients.py measures
            # it); without nginx it is not answered at all (the test above).
            response = proxied.deliver(proxied.https, timeout=5)
        except requests.Timeout:
            pytest.fail(f"no answer within 5 s while {SLOW_CLIENTS} slow clients were connected to nginx")
        still_connected = slow.open
    assert response.status_code == HTTPStatus.OK, response.text
    assert response.json()["status"] == "counted"
    assert still_connected == SLOW_CLIENTS, "the slow clients should have been mid-request throughout"
    # nginx forwarded none of their unfinished requests: gunicorn never saw one.
    logged = proxied.serve_log.read_text()[len(log_before) :]
    assert '"POST /api/webhooks/posthog HTTP/1.0" 200' in logged
    assert MARKER not in logged
