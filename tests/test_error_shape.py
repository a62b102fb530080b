"""Every JSON endpoint answers an error with one shape: {"ok": false, "error": "<message>"}.

docs/api.md documents it; the status codes are each endpoint's own (tested with them).
"""

from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission, User

from tests.support.helpers import CRON_SECRET, WEBHOOK_SECRET
from tests.support.webhook_payloads import URL as WEBHOOK_URL

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("endpoint_secrets")]

CRON_URL = "/api/cron/sync-visitors"
STATUS_URL = "/api/sync"
SYNC_START_URL = "/admin/metrics/weeklymetric/sync/start/"


def assert_error_shape(response, status: HTTPStatus) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["ok"] is False
    assert isinstance(body["error"], str) and body["error"].strip()
    return body


@pytest.mark.parametrize(
    ("method", "url", "status", "allow"),
    [
        ("put", WEBHOOK_URL, HTTPStatus.METHOD_NOT_ALLOWED, "GET, POST"),
        ("delete", CRON_URL, HTTPStatus.METHOD_NOT_ALLOWED, "GET, POST"),
        ("post", STATUS_URL, HTTPStatus.METHOD_NOT_ALLOWED, "GET"),
    ],
)
def test_wrong_methods_answer_the_json_error_with_allow(client, method, url, status, allow):
    response = getattr(client, method)(url)
    body = assert_error_shape(response, status)
    assert response["Allow"] == allow
    assert method.upper() in body["error"] and allow in body["error"]


def test_webhook_errors(client):
    assert_error_shape(
        client.post(WEBHOOK_URL, b"{}", content_type="application/json"), HTTPStatus.UNAUTHORIZED
    )
    body = assert_error_shape(
        client.post(
            WEBHOOK_URL,
            b"{not json",
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {WEBHOOK_SECRET}",
        ),
        HTTPStatus.BAD_REQUEST,
    )
    assert "not valid JSON" in body["error"]


def test_cron_errors(client):
    assert_error_shape(client.post(CRON_URL), HTTPStatus.UNAUTHORIZED)
    body = assert_error_shape(
        client.post(f"{CRON_URL}?nope=1", HTTP_AUTHORIZATION=f"Bearer {CRON_SECRET}"), HTTPStatus.BAD_REQUEST
    )
    assert "nope" in body["error"]


def test_admin_json_errors(client, admin_client):
    assert_error_shape(
        admin_client.get("/admin/metrics/weeklymetric/sync/runs/999/progress/"), HTTPStatus.NOT_FOUND
    )
    viewer = User.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_weeklymetric"))
    client.force_login(viewer)
    assert_error_shape(client.post(SYNC_START_URL), HTTPStatus.FORBIDDEN)
    body = assert_error_shape(
        admin_client.post(SYNC_START_URL, {"since": "not a date"}), HTTPStatus.BAD_REQUEST
    )
    assert "since" in body["errors"]
