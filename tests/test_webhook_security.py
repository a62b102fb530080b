"""Authentication of /api/webhooks/posthog: the shared-secret suite and Standard Webhooks signatures."""

import base64
import datetime as dt
import time
from http import HTTPStatus

import pytest
from django.test import RequestFactory

from metrics.models import WebhookDelivery, WeeklyMetric, WeekVisitor
from metrics.posthog import destination
from tests.support.security_suite import SharedSecretSuite
from tests.support.webhook_payloads import (
    URL,
    VECTOR_BODY,
    VECTOR_ID,
    VECTOR_SECRET,
    VECTOR_SIGNATURE,
    VECTOR_TIMESTAMP,
    encode,
    pageview,
    signed_headers,
)

pytestmark = pytest.mark.django_db


def rows() -> int:
    return WebhookDelivery.objects.count() + WeekVisitor.objects.count() + WeeklyMetric.objects.count()


class TestWebhookSharedSecret(SharedSecretSuite):
    setting = "POSTHOG_WEBHOOK_SECRET"
    other_secret_settings = ("POSTHOG_WEBHOOK_SIGNING_SECRET",)

    def send(self, client, headers):
        return client.post(URL, data=encode(pageview()), content_type="application/json", headers=headers)

    def writes(self):
        return WebhookDelivery.objects.count()


# --- Standard Webhooks signatures --------------------------------------------------------
@pytest.fixture
def signing(settings):
    settings.POSTHOG_WEBHOOK_SECRET = ""
    settings.POSTHOG_WEBHOOK_SIGNING_SECRET = VECTOR_SECRET
    settings.DEBUG = False


def post_signed(client, body: bytes, headers: dict[str, str]):
    return client.post(URL, data=body, content_type="application/json", headers=headers)


def test_published_test_vector_verifies():
    key = base64.b64decode(VECTOR_SECRET.removeprefix("whsec_"))
    assert (
        destination.sign(VECTOR_BODY, key=key, msg_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP)
        == VECTOR_SIGNATURE
    )
    request = RequestFactory().post(
        URL,
        data=VECTOR_BODY,
        content_type="application/json",
        headers={
            "webhook-id": VECTOR_ID,
            "webhook-timestamp": str(VECTOR_TIMESTAMP),
            "webhook-signature": VECTOR_SIGNATURE,
        },
    )
    at = dt.datetime.fromtimestamp(VECTOR_TIMESTAMP, tz=dt.UTC) + dt.timedelta(seconds=30)
    destination.verify_signature(request, VECTOR_BODY, keys=(key,), now=at)  # does not raise
    with pytest.raises(destination.WebhookUnauthorized, match="Invalid signature"):
        destination.verify_signature(request, VECTOR_BODY + b" ", keys=(key,), now=at)


def test_signed_delivery_is_counted(client, signing):
    body = encode(pageview())
    response = post_signed(client, body, signed_headers(body))
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["status"] == "counted"
    assert client.get(URL).json()["auth"] == "signature"


@pytest.mark.parametrize(
    "drop", ["webhook-id", "webhook-timestamp", "webhook-signature"], ids=lambda name: f"without-{name}"
)
def test_missing_signature_header_is_refused(client, signing, drop):
    body = encode(pageview())
    headers = signed_headers(body)
    del headers[drop]
    response = post_signed(client, body, headers)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert drop in response.json()["error"]
    assert rows() == 0


def test_wrong_signature_is_refused(client, signing):
    body = encode(pageview())
    headers = signed_headers(body, secret="whsec_" + base64.b64encode(b"another key, 24 bytes!!").decode())
    response = post_signed(client, body, headers)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert "Invalid signature" in response.json()["error"]
    assert rows() == 0


def test_signature_over_another_body_is_refused(client, signing):
    body = encode(pageview(visitor="alice"))
    headers = signed_headers(body)
    tampered = body.replace(b"alice", b"mallory")
    assert post_signed(client, tampered, headers).status_code == HTTPStatus.UNAUTHORIZED
    assert rows() == 0


def test_signature_with_another_id_is_refused(client, signing):
    body = encode(pageview())
    headers = signed_headers(body, msg_id="msg_1")
    headers["webhook-id"] = "msg_2"
    assert post_signed(client, body, headers).status_code == HTTPStatus.UNAUTHORIZED
    assert rows() == 0


@pytest.mark.parametrize(("offset", "accepted"), [(-290, True), (290, True), (-310, False), (310, False)])
def test_timestamp_must_be_within_five_minutes_either_way(client, signing, offset, accepted):
    body = encode(pageview())
    response = post_signed(client, body, signed_headers(body, timestamp=int(time.time()) + offset))
    if accepted:
        assert response.status_code == HTTPStatus.OK, response.content
        assert rows() > 0
    else:
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert "webhook-timestamp" in response.json()["error"]
        assert rows() == 0


@pytest.mark.parametrize(
    "stamp", ["", "abc", "1e9", "-5", "\u0661\u0662\u0663", "99999999999999999999", "999999999999"]
)
def test_malformed_timestamp_is_refused(client, signing, stamp):
    body = encode(pageview())
    headers = signed_headers(body)
    headers["webhook-timestamp"] = stamp
    assert post_signed(client, body, headers).status_code == HTTPStatus.UNAUTHORIZED
    assert rows() == 0


def test_any_one_valid_signature_of_several_is_accepted(client, signing):
    body = encode(pageview())
    headers = signed_headers(body)
    good = headers["webhook-signature"]
    bogus = "v1," + base64.b64encode(b"x" * 32).decode()
    headers["webhook-signature"] = f"v1a,whatever {bogus} not-base64 v1,%%% {good}"
    assert post_signed(client, body, headers).status_code == HTTPStatus.OK
    headers["webhook-signature"] = f"{bogus} v2,{good[3:]}"  # only v1 is defined
    assert post_signed(client, body, headers).status_code == HTTPStatus.UNAUTHORIZED


def test_non_ascii_signature_headers_are_refused_not_a_server_error(client, signing):
    body = encode(pageview())
    bad = (("webhook-signature", "v1,é"), ("webhook-id", "msg_é"), ("webhook-timestamp", "\u0661"))
    for name, value in bad:
        headers = signed_headers(body)
        headers[name] = value
        assert post_signed(client, body, headers).status_code == HTTPStatus.UNAUTHORIZED
    assert rows() == 0


def test_signing_secret_rotation_accepts_both(client, settings, signing):
    new = "whsec_" + base64.b64encode(b"the new signing key 1234").decode()
    settings.POSTHOG_WEBHOOK_SIGNING_SECRET = f"{new},{VECTOR_SECRET}"
    for secret in (new, VECTOR_SECRET):
        body = encode(pageview())
        assert post_signed(client, body, signed_headers(body, secret=secret)).status_code == HTTPStatus.OK


def test_malformed_signing_secret_refuses_everything_with_a_fix(client, settings, signing):
    settings.POSTHOG_WEBHOOK_SIGNING_SECRET = "whsec_not base64!"
    body = encode(pageview())
    response = post_signed(client, body, signed_headers(body))
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "POSTHOG_WEBHOOK_SIGNING_SECRET" in response.json()["error"]
    assert client.get(URL).status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert rows() == 0


def test_with_both_configured_both_are_required(client, settings, signing):
    settings.POSTHOG_WEBHOOK_SECRET = "shared-secret-abc"
    body = encode(pageview())
    signed = signed_headers(body)
    assert post_signed(client, body, signed).status_code == HTTPStatus.UNAUTHORIZED
    with_secret = {**signed, "X-Webhook-Secret": "shared-secret-abc"}
    assert post_signed(client, body, with_secret).status_code == HTTPStatus.OK
    body = encode(pageview())
    assert (
        post_signed(client, body, {"X-Webhook-Secret": "shared-secret-abc"}).status_code
        == HTTPStatus.UNAUTHORIZED
    )
    assert client.get(URL).json()["auth"] == "signature+shared_secret"


def test_authentication_comes_before_parsing(client, settings):
    settings.POSTHOG_WEBHOOK_SECRET = "shared-secret-abc"
    response = client.post(URL, data=b"{not json", content_type="application/json")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    response = client.post(
        URL,
        data=b"{not json",
        content_type="application/json",
        headers={"X-Webhook-Secret": "shared-secret-abc"},
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
