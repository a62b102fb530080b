"""Property-based: whatever arrives, the webhook never answers 5xx and writes only for a
valid, authenticated pageview (and then exactly one delivery)."""

import datetime as dt
import itertools
from http import HTTPStatus

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from metrics.models import WebhookDelivery, WeeklyMetric, WeekVisitor
from tests.support.webhook_payloads import SECRET, URL, encode

pytestmark = pytest.mark.django_db

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
timestamps = st.one_of(
    st.datetimes(
        min_value=dt.datetime(1, 1, 2),
        max_value=dt.datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [dt.UTC, dt.timezone(dt.timedelta(hours=14)), dt.timezone(-dt.timedelta(hours=12))]
        ),
    ).map(lambda moment: moment.isoformat()),
    st.just(timezone.now().isoformat()),
    st.text(max_size=30),
    json_values,
)
event_fields = st.fixed_dictionaries(
    {},
    optional={
        "uuid": st.one_of(st.uuids().map(str), st.text(max_size=300), json_values),
        "event": st.one_of(st.sampled_from(["$pageview", "$autocapture", ""]), json_values),
        "timestamp": timestamps,
        "distinct_id": st.one_of(st.text(max_size=20), json_values),
    },
)
person = st.one_of(
    st.none(), json_values, st.fixed_dictionaries({}, optional={"id": st.one_of(st.text(), json_values)})
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(encode),
    st.fixed_dictionaries({"event": event_fields}, optional={"person": person}).map(encode),
)
header_text = st.text(max_size=40)  # includes non-ASCII, as a WSGI server may pass through
headers = st.fixed_dictionaries(
    {},
    optional={
        "Authorization": st.one_of(
            header_text, header_text.map(lambda s: f"Bearer {s}"), st.just(f"Bearer {SECRET}")
        ),
        "X-Webhook-Secret": st.one_of(header_text, st.just(SECRET)),
        "webhook-id": header_text,
        "webhook-timestamp": st.one_of(header_text, st.integers().map(str)),
        "webhook-signature": header_text,
        "Content-Type": header_text,
    },
)


def authenticated(sent: dict[str, str]) -> bool:
    return (
        sent.get("Authorization", "").strip() == f"Bearer {SECRET}" or sent.get("X-Webhook-Secret") == SECRET
    )


def row_counts() -> tuple[int, int, int]:
    return WebhookDelivery.objects.count(), WeekVisitor.objects.count(), WeeklyMetric.objects.count()


@hypothesis_settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies, sent=headers)
def test_arbitrary_requests_never_5xx_and_write_only_when_valid_and_authenticated(settings, body, sent):
    settings.POSTHOG_WEBHOOK_SECRET = SECRET
    settings.POSTHOG_WEBHOOK_SIGNING_SECRET = ""
    settings.DEBUG = False
    before = row_counts()
    response = Client().post(URL, data=body, content_type="application/json", headers=sent)
    after = row_counts()
    assert response.status_code < HTTPStatus.INTERNAL_SERVER_ERROR, response.content
    assert response["Content-Type"] == "application/json"
    status = response.json().get("status")
    if not authenticated(sent):
        assert response.status_code == HTTPStatus.UNAUTHORIZED
    if status == "counted":
        assert authenticated(sent)
        assert after[0] == before[0] + 1
    else:
        assert after == before, (response.status_code, response.content)


# The database keeps its rows across examples: every example gets a fresh event uuid.
_fresh = itertools.count()


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    suffix=st.text(max_size=50).filter(lambda text: "\x00" not in text),  # NUL: a 400
    visitor=st.text(min_size=1, max_size=60).filter(str.strip),
    age=st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(weeks=6)),
    extra=st.dictionaries(st.text(max_size=10), json_values, max_size=5),
)
def test_valid_pageviews_count_once_whatever_their_content(settings, suffix, visitor, age, extra):
    settings.POSTHOG_WEBHOOK_SECRET = SECRET
    settings.DEBUG = False
    body = {
        "event": {
            **extra,
            "uuid": f"event-{next(_fresh)}-{suffix}",
            "event": "$pageview",
            "timestamp": (timezone.now() - age).isoformat(),
        },
        "person": {"id": visitor},
    }
    client = Client()
    before = row_counts()
    first = client.post(
        URL, data=encode(body), content_type="application/json", headers={"X-Webhook-Secret": SECRET}
    )
    assert first.status_code == HTTPStatus.OK, first.content
    assert first.json()["status"] == "counted"
    middle = row_counts()
    assert middle[0] == before[0] + 1
    again = client.post(
        URL, data=encode(body), content_type="application/json", headers={"X-Webhook-Secret": SECRET}
    )
    assert again.json()["status"] == "duplicate"
    assert row_counts() == middle
