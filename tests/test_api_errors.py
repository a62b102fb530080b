"""Every answer under /api/ that is an error is the JSON error object, whatever failed, with
DEBUG off as in production: a database that cannot be reached, an exception nobody expected,
an unknown path, Django's own refusals. The admin keeps Django's pages.

The database fails for real: the test connection is pointed at an address where nothing
answers (a port nobody listens on; for SQLite, a file in a directory that does not exist).
"""

import contextlib
import logging
import socket
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from metrics.http.api_errors import DATABASE_UNAVAILABLE, MESSAGES
from tests.support.helpers import CRON_SECRET
from tests.support.stats_api import TOKEN

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("endpoint_secrets")]

# The requests a monitor, a spreadsheet and a scheduler send; each needs the database.
API_REQUESTS = [
    ("get", "/api/sync", {}),
    ("get", "/api/stats/weekly", {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}),
    ("post", "/api/cron/sync-visitors", {"HTTP_AUTHORIZATION": f"Bearer {CRON_SECRET}"}),
]


@pytest.fixture
def api_tokens(settings):
    settings.VISITORSYNC_API_TOKENS = TOKEN


@pytest.fixture
def http():
    """A client that answers what a real server answers to an exception (the test client
    re-raises it by default)."""
    return Client(raise_request_exception=False)


@contextlib.contextmanager
def database_at_nothing(tmp_path: Path) -> Iterator[None]:
    """This thread's connection opens at an address where nothing answers, until the block ends."""
    settings_dict = connection.settings_dict
    saved = {key: settings_dict[key] for key in ("NAME", "HOST", "PORT")}
    connection.close()
    if connection.vendor == "sqlite":
        settings_dict["NAME"] = str(tmp_path / "missing" / "db.sqlite3")
    else:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]  # closed again: nothing listens there
        settings_dict.update(HOST="127.0.0.1", PORT=str(port))
    try:
        yield
    finally:
        connection.close()
        settings_dict.update(saved)


@pytest.fixture
def unreachable_database(tmp_path):
    with database_at_nothing(tmp_path):
        yield


def assert_error_object(response, status: HTTPStatus, message: str) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json", response.content[:500]
    body = response.json()
    assert body == {"ok": False, "error": message}
    return body


@pytest.mark.usefixtures("api_tokens")
@pytest.mark.parametrize(("method", "path", "headers"), API_REQUESTS, ids=[r[1] for r in API_REQUESTS])
def test_an_unreachable_database_is_a_json_503_without_the_drivers_words(
    http, unreachable_database, caplog, method, path, headers
):
    with caplog.at_level(logging.ERROR, logger="metrics"):
        response = getattr(http, method)(path, **headers)
    assert_error_object(response, HTTPStatus.SERVICE_UNAVAILABLE, DATABASE_UNAVAILABLE)
    assert response["Retry-After"]
    # The driver's message (host, port, file) is in the log, for the operator only.
    logged = [record.getMessage() for record in caplog.records if "answered 503" in record.getMessage()]
    assert len(logged) == 1 and path in logged[0], caplog.text
    driver_words = ("127.0.0.1", "missing", "connect", "sqlite", "psycopg", "port")
    assert not any(word in response.content.decode().lower() for word in driver_words)


def test_an_unexpected_exception_is_a_json_500_and_logged_with_its_traceback(http, caplog):
    def fail(execute, sql, params, many, context):
        raise RuntimeError("unexpected at db.internal.example:5432")

    with caplog.at_level(logging.ERROR, logger="django.request"), connection.execute_wrapper(fail):
        response = http.get("/api/sync")
    internal = HTTPStatus.INTERNAL_SERVER_ERROR
    assert_error_object(response, internal, MESSAGES[internal])
    assert b"db.internal.example" not in response.content
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.exc_info and "unexpected at db.internal.example" in str(record.exc_info[1])


@pytest.mark.parametrize("path", ["/api/nope", "/api/", "/api", "/api/sync/", "/api/webhooks/posthog/extra"])
def test_an_unknown_api_path_is_a_json_404(http, path):
    assert_error_object(http.get(path), HTTPStatus.NOT_FOUND, MESSAGES[HTTPStatus.NOT_FOUND])


def test_a_host_not_allowed_is_a_json_400(http):
    response = http.get("/api/sync", HTTP_HOST="attacker.example")
    assert_error_object(response, HTTPStatus.BAD_REQUEST, MESSAGES[HTTPStatus.BAD_REQUEST])


def test_a_post_to_the_status_endpoint_is_a_json_405_not_the_csrf_page():
    response = Client(enforce_csrf_checks=True).post("/api/sync")
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json()["ok"] is False and response["Allow"] == "GET"


def test_other_paths_keep_djangos_pages(http):
    response = http.get("/not-here/")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response["Content-Type"].startswith("text/html")


def test_the_admin_keeps_djangos_server_error_page_when_the_database_fails(http, admin_user, tmp_path):
    http.force_login(admin_user)
    with database_at_nothing(tmp_path):
        response = http.get("/admin/")
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert response["Content-Type"].startswith("text/html")
