"""A refused secret is logged once: the endpoint's own WARNING (which door, which client, why),
not a second one from Django's `django.request` logger. Other 4xx keep Django's line.

In-process with caplog for each door, then over gunicorn (`scripts/serve`) reading its log.
"""

import http.client
import logging
from http import HTTPStatus
from pathlib import Path

import pytest

from tests.support.stack import PRODUCTION_ENV, free_port, serve_env, start_serve, stop_group
from tests.support.webhook_payloads import encode, pageview

pytestmark = pytest.mark.django_db

CONFIGURED = {
    "POSTHOG_WEBHOOK_SECRET": "webhook-Qm3xV9kLp2RtY7wZ4nB8cD1fG6hJ0sEa",
    "CRON_SECRET": "cron-Tz5yH2mN8qW4eR7uI1oP3aS6dF9gJ0kLx",
    "VISITORSYNC_API_TOKENS": "stats-Bv4cX7zL1kJ9hG3fD6sA2qW8eR5tY0uIo",
}
PRESENTED = "wrong-Xw9Yq2Lm7Rt4Kp1Zs8Vb3Nc6Hd0Gf5Je"
# (method, path, body, the log line's start); each refused for the wrong bearer secret.
DOORS = {
    "webhook": ("POST", "/api/webhooks/posthog", encode(pageview()), "webhook refused from "),
    "cron": ("POST", "/api/cron/sync-visitors", b"", "cron endpoint: missing or wrong bearer secret from "),
    "stats": ("GET", "/api/stats/weekly", b"", "stats API: missing or wrong bearer token from "),
}


@pytest.fixture
def secrets_configured(settings):
    for name, value in CONFIGURED.items():
        setattr(settings, name, value)
    settings.DEBUG = False


def warnings_logged(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.WARNING]


@pytest.mark.parametrize("door", DOORS)
def test_a_refused_secret_is_one_warning_naming_the_door_and_not_the_secret(
    client, secrets_configured, caplog, door
):
    method, path, body, logged = DOORS[door]
    caplog.set_level(logging.DEBUG)
    response = client.generic(
        method, path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {PRESENTED}"
    )
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    (record,) = warnings_logged(caplog)
    assert record.name.startswith("metrics.")
    assert record.getMessage().startswith(logged)
    for secret in (PRESENTED, *CONFIGURED.values()):
        assert secret not in record.getMessage()


def test_other_client_errors_are_still_logged_by_django(client, secrets_configured, caplog):
    caplog.set_level(logging.DEBUG)
    token = CONFIGURED["VISITORSYNC_API_TOKENS"]
    response = client.get("/api/stats/weekly?format=xml", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    (record,) = warnings_logged(caplog)
    assert (record.name, record.getMessage()) == ("django.request", "Bad Request: /api/stats/weekly")


@pytest.mark.slow
def test_over_gunicorn_each_refused_request_is_one_warning_line(tmp_path: Path):
    port = free_port()
    log_path = tmp_path / "serve.log"
    env = serve_env(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        port=port,
        static_root=tmp_path / "static",
        workers=1,
        threads=1,
        VISITORSYNC_API_TOKENS=CONFIGURED["VISITORSYNC_API_TOKENS"],
    )
    server = start_serve(env, log_path=log_path, port=port)
    try:
        before = log_path.read_text().count("\n")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for method, path, body, _ in DOORS.values():
                conn.request(method, path, body=body, headers={"Authorization": f"Bearer {PRESENTED}"})
                response = conn.getresponse()
                response.read()
                assert response.status == HTTPStatus.UNAUTHORIZED, path
        finally:
            conn.close()
    finally:
        stop_group(server)
    lines = log_path.read_text().splitlines()[before:]
    warnings = [line for line in lines if " WARNING " in line]
    assert [logged for *_, logged in DOORS.values() if any(logged in line for line in warnings)] == [
        logged for *_, logged in DOORS.values()
    ], warnings
    assert len(warnings) == len(DOORS), warnings
    secrets = (PRESENTED, PRODUCTION_ENV["POSTHOG_WEBHOOK_SECRET"], PRODUCTION_ENV["CRON_SECRET"])
    assert not [line for line in lines for secret in secrets if secret in line]
