"""What /api/webhooks/posthog counts, what it refuses, and what it answers."""

import contextlib
import datetime as dt
import io
import json
import logging
import threading
import time
from http import HTTPStatus

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.core.management import call_command
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from metrics import tracker
from metrics.core import db_stall, weeks
from metrics.http import posthog_webhook
from metrics.models import WebhookDelivery, WeeklyMetric, WeekVisitor
from metrics.numbers import read_weeks
from tests.support.webhook_payloads import SECRET, URL, encode, pageview, post

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.POSTHOG_WEBHOOK_SECRET = SECRET
    settings.POSTHOG_WEBHOOK_SIGNING_SECRET = ""
    settings.DEBUG = False


def numbers(week: dt.date) -> tuple[int, int]:
    metric = WeeklyMetric.objects.filter(week_start=week).first()
    return (metric.visitors, metric.pageviews) if metric else (0, 0)


def rows() -> tuple[int, int, int]:
    return WebhookDelivery.objects.count(), WeekVisitor.objects.count(), WeeklyMetric.objects.count()


def hours_ago(hours: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(hours=hours)


# --- Counting ---------------------------------------------------------------------------------
def test_first_pageview_creates_the_week_with_one_visitor(client):
    moment = hours_ago(1)
    response = post(client, pageview(timestamp=moment))
    assert response.status_code == HTTPStatus.OK
    week = weeks.week_start_for(moment)
    assert response.json() == {"status": "counted", "week": week.isoformat(), "new_visitor": True}
    assert numbers(week) == (1, 1)


def test_duplicate_delivery_counts_once(client):
    body = pageview(uuid="0195a1b2-7c3d-7e4f-9a10-1b2c3d4e5f60")
    assert post(client, body).json()["status"] == "counted"
    again = post(client, body)
    assert again.status_code == HTTPStatus.OK
    assert again.json()["status"] == "duplicate"
    assert numbers(weeks.current_week_start()) == (1, 1)
    assert rows() == (1, 1, 1)


def test_returning_visitor_adds_pageviews_but_not_visitors(client):
    for _ in range(3):
        post(client, pageview(visitor="alice", timestamp=hours_ago(1)))
    post(client, pageview(visitor="bob", timestamp=hours_ago(1)))
    assert numbers(weeks.week_start_for(hours_ago(1))) == (2, 4)


def test_same_visitor_counts_once_in_each_week(client):
    last_week = hours_ago(24 * 7)
    post(client, pageview(visitor="alice", timestamp=hours_ago(1)))
    post(client, pageview(visitor="alice", timestamp=last_week))
    assert numbers(weeks.week_start_for(hours_ago(1))) == (1, 1)
    assert numbers(weeks.week_start_for(last_week)) == (1, 1)


def test_week_comes_from_the_event_timestamp_in_the_configured_time_zone(client, settings):
    settings.VISITORSYNC_TIMEZONE = "Europe/Berlin"
    # Sunday 23:30 UTC is already Monday 00:30 in Berlin: the next week.
    sunday_night = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)
    settings.VISITORSYNC_WEBHOOK_RETENTION_WEEKS = 1000
    response = post(client, pageview(timestamp="2026-03-01T23:30:00Z"))
    assert response.json()["week"] == "2026-03-02"
    assert numbers(dt.date(2026, 3, 2)) == (1, 1)
    assert weeks.week_start_for(sunday_night) == dt.date(2026, 3, 2)
    settings.VISITORSYNC_TIMEZONE = "UTC"
    assert post(client, pageview(timestamp="2026-03-01T23:30:00+00:00")).json()["week"] == "2026-02-23"


@pytest.mark.parametrize(
    "stamp", ["2026-03-04T10:00:00Z", "2026-03-04T10:00:00.123456+00:00", "2026-03-04 10:00:00", "2026-03-04"]
)
def test_timestamp_formats_posthog_has_used_are_accepted(client, settings, stamp):
    settings.VISITORSYNC_WEBHOOK_RETENTION_WEEKS = 1000
    response = post(client, pageview(timestamp=stamp))
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["week"] == "2026-03-02"


def test_visitor_is_person_id_else_distinct_id(client):
    moment = hours_ago(1)
    post(client, pageview(visitor="person-A", distinct_id="device-1", timestamp=moment))
    post(client, pageview(visitor="person-A", distinct_id="device-2", timestamp=moment))  # same person
    post(client, pageview(visitor=None, distinct_id="anon-1", timestamp=moment))
    post(client, pageview(visitor=None, distinct_id="anon-1", timestamp=moment))
    assert numbers(weeks.week_start_for(moment)) == (2, 4)


def test_visitor_is_stored_as_a_keyed_hash_not_the_raw_id(client, settings):
    post(client, pageview(visitor="jane@example.com"))
    stored = bytes(WeekVisitor.objects.get().visitor_hash)
    assert b"jane" not in stored and len(stored) == 16
    WeekVisitor.objects.all().delete()
    WebhookDelivery.objects.all().delete()
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    post(client, pageview(visitor="jane@example.com"))
    assert bytes(WeekVisitor.objects.get().visitor_hash) != stored  # keyed: not a plain hash of the id


def test_other_events_are_ignored_with_2xx(client):
    response = post(client, pageview(event="$autocapture", visitor=None, distinct_id=""))
    assert response.status_code == HTTPStatus.OK
    assert response.json()["status"] == "ignored"
    assert "$pageview" in response.json()["detail"]
    assert rows() == (0, 0, 0)


def test_configured_event_is_what_counts(client, settings):
    settings.VISITORSYNC_EVENT = "$screen"
    assert post(client, pageview(event="$pageview")).json()["status"] == "ignored"
    assert post(client, pageview(event="$screen")).json()["status"] == "counted"


def test_event_older_than_the_retention_window_is_too_old_and_not_written(client, settings):
    settings.VISITORSYNC_WEBHOOK_RETENTION_WEEKS = 2
    oldest = tracker.oldest_tracked_week()
    inside = weeks.week_bounds(oldest)[0] + dt.timedelta(minutes=1)
    outside = weeks.week_bounds(oldest)[0] - dt.timedelta(minutes=1)
    response = post(client, pageview(timestamp=outside))
    assert response.status_code == HTTPStatus.OK
    assert response.json()["status"] == "too_old"
    assert rows() == (0, 0, 0)
    assert post(client, pageview(timestamp=inside)).json() == {
        "status": "counted",
        "week": oldest.isoformat(),
        "new_visitor": True,
    }


def test_counts_add_to_posthogs_numbers_of_a_synced_week(client):
    week = weeks.week_start_for(hours_ago(1))
    WeeklyMetric.objects.create(
        week_start=week, visitors=10, pageviews=50, posthog_visitors=10, posthog_pageviews=50
    )
    post(client, pageview(visitor="new-person", timestamp=hours_ago(1)))
    metric = WeeklyMetric.objects.get(week_start=week)
    assert (metric.visitors, metric.pageviews) == (11, 51)
    [week_numbers] = read_weeks([metric]).weeks
    assert (week_numbers.from_webhook("visitors"), week_numbers.from_webhook("pageviews")) == (1, 1)


# --- Bad input ------------------------------------------------------------------------------
def ev(**fields) -> dict:
    """A body with just these event fields (plus `person` when given)."""
    person = fields.pop("person", None)
    return {"event": fields, **({"person": person} if person is not None else {})}


T = "2026-03-04T10:00:00Z"
PV = "$pageview"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (b"{not json", None, "not valid JSON"),
        (b"\xff\xfe", None, "not valid JSON"),
        (b"[1, 2]", None, "JSON object"),
        (b'"text"', None, "JSON object"),
        (b"{}", "event", "'event' must be an object"),
        (b'{"event": "{event}"}', "event", "must be an object"),
        (ev(event=PV, timestamp=T), "event.uuid", "missing"),
        (ev(uuid=5, event=PV, timestamp=T), "event.uuid", "string"),
        (ev(uuid=" ", event=PV, timestamp=T), "event.uuid", "string"),
        (ev(uuid="a", timestamp=T), "event.event", "missing"),
        (ev(uuid="a", event=[PV], timestamp=T), "event.event", "string"),
        (ev(uuid="a", event=PV), "event.timestamp", "missing"),
        (ev(uuid="a", event=PV, timestamp=1741616525), "event.timestamp", "string"),
        (ev(uuid="a", event=PV, timestamp="yesterday"), "event.timestamp", "ISO 8601"),
        (ev(uuid="a", event=PV, timestamp="2999-01-01T00:00:00Z"), "event.timestamp", "future"),
        (ev(uuid="a", event=PV, timestamp="0001-01-01T00:00:00+05:00"), "event.timestamp", "range"),
        (ev(uuid="a", event=PV, timestamp="0001-01-01T00:00:00Z"), "event.timestamp", "not a real"),
        (ev(uuid="\ud800", event=PV, timestamp=T, distinct_id="d"), "event.uuid", "Unicode"),
        (ev(uuid="a", event=PV, timestamp=T, person={"id": "\udfff"}), "event.distinct_id", "person.id"),
        (ev(uuid="x" * 256, event=PV, timestamp=T), "event.uuid", "longer"),
        (ev(uuid="a\x00b", event=PV, timestamp=T, distinct_id="d"), "event.uuid", "NUL"),
        (ev(uuid="a", event=PV, timestamp=T), "event.distinct_id", "person.id"),
        (
            ev(uuid="a", event=PV, timestamp=T, distinct_id=7, person={"id": None}),
            "event.distinct_id",
            "visitor",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(client, settings, body, field, message):
    settings.VISITORSYNC_WEBHOOK_RETENTION_WEEKS = 1000
    response = post(client, body)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    answer = response.json()
    assert answer["ok"] is False
    assert message.lower() in answer["error"].lower(), answer
    assert answer.get("field") == field
    assert rows() == (0, 0, 0)


def test_deeply_nested_json_is_a_400_not_a_crash(client):
    response = post(client, b"[" * 30000 + b"]" * 30000)
    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_body_over_the_limit_is_413_and_writes_nothing(client, settings):
    settings.VISITORSYNC_WEBHOOK_MAX_BODY = 2048
    body = pageview()
    body["event"]["properties"]["padding"] = "x" * 3000
    response = post(client, body)
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert "VISITORSYNC_WEBHOOK_MAX_BODY" in response.json()["error"]
    body["event"]["properties"]["padding"] = "x" * 1000
    assert post(client, body).status_code == HTTPStatus.OK


def test_body_longer_than_its_declared_length_is_cut_at_the_limit(rf, settings):
    from metrics.posthog.destination import WebhookTooLarge, read_body

    settings.VISITORSYNC_WEBHOOK_MAX_BODY = 1024
    request = rf.post(URL, data=b"x" * 5000, content_type="application/json")
    request.META["CONTENT_LENGTH"] = "10"  # lies; the stream still holds more than the limit
    request._stream = type(request._stream)(__import__("io").BytesIO(b"x" * 5000), 5000)
    with pytest.raises(WebhookTooLarge):
        read_body(request, limit=1024)


@pytest.mark.parametrize(("size", "drained"), [(70_000, True), (2 * 1024 * 1024, False)])
def test_refused_body_is_drained_up_to_a_cap_so_keep_alive_survives(rf, size, drained):
    """gunicorn drops a keep-alive connection whose body was left unread; a moderately
    oversized body is read to the end, a huge one is not worth reading."""
    from metrics.posthog.destination import WebhookTooLarge, read_body

    request = rf.post(URL, data=b"x" * size, content_type="application/json")
    with pytest.raises(WebhookTooLarge):
        read_body(request, limit=64 * 1024)
    assert (request.read(1) == b"") is drained


def chunked_request(rf, body: bytes, *, terminated: bool):
    """A POST the way a WSGI server hands over a `Transfer-Encoding: chunked` body: no
    CONTENT_LENGTH; `wsgi.input_terminated` when the server ends the input for the app."""
    environ = rf.post(URL, data=body, content_type="application/json").environ
    environ = {key: value for key, value in environ.items() if key != "CONTENT_LENGTH"}
    environ.update({"HTTP_AUTHORIZATION": f"Bearer {SECRET}", "HTTP_TRANSFER_ENCODING": "chunked"})
    environ["wsgi.input"] = io.BytesIO(body)
    if terminated:
        environ["wsgi.input_terminated"] = True
    return WSGIRequest(environ)


def test_chunked_delivery_from_a_server_that_ends_the_input_is_counted(rf):
    response = posthog_webhook.posthog_webhook(chunked_request(rf, encode(pageview()), terminated=True))
    assert response.status_code == HTTPStatus.OK, response.content
    assert json.loads(response.content)["status"] == "counted"
    assert numbers(weeks.current_week_start()) == (1, 1)


def test_chunked_body_over_the_limit_is_413(rf, settings):
    settings.VISITORSYNC_WEBHOOK_MAX_BODY = 2048
    body = pageview()
    body["event"]["properties"]["padding"] = "x" * 3000
    response = posthog_webhook.posthog_webhook(chunked_request(rf, encode(body), terminated=True))
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert rows() == (0, 0, 0)


def test_body_without_length_from_a_server_that_does_not_end_it_is_411(rf):
    """Without `wsgi.input_terminated` the app cannot tell where the body ends: say so, never
    a permanent 400 for a delivery that may be valid."""
    response = posthog_webhook.posthog_webhook(chunked_request(rf, encode(pageview()), terminated=False))
    assert response.status_code == HTTPStatus.LENGTH_REQUIRED
    assert "Content-Length" in json.loads(response.content)["error"]
    assert rows() == (0, 0, 0)


@pytest.mark.parametrize("method", ["put", "patch", "delete", "options", "head"])
def test_other_methods_are_405_as_json(client, method):
    response = getattr(client, method)(URL, headers={"Authorization": f"Bearer {SECRET}"})
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Allow"] == "GET, POST"
    if method != "head":
        assert "POST" in response.json()["error"]
    assert rows() == (0, 0, 0)


def test_trailing_slash_is_served_without_a_redirect(client):
    response = client.post(
        URL + "/",
        data=encode(pageview()),
        content_type="application/json",
        headers={"X-Webhook-Secret": SECRET},
    )
    assert response.status_code == HTTPStatus.OK


# --- Health document ---------------------------------------------------------------------------
def test_get_is_a_health_document_without_secrets(client):
    response = client.get(URL)
    assert response.status_code == HTTPStatus.OK
    document = response.json()
    assert document["accepting"] is True
    assert document["event"] == "$pageview"
    assert document["auth"] == "shared_secret"
    assert document["warnings"] == []
    assert SECRET not in response.content.decode()


def test_get_without_secret_in_production_is_503_naming_the_settings(client, settings):
    settings.POSTHOG_WEBHOOK_SECRET = ""
    response = client.get(URL)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["accepting"] is False
    assert "POSTHOG_WEBHOOK_SECRET" in response.json()["error"]


def test_get_without_secret_in_debug_warns(client, settings):
    settings.POSTHOG_WEBHOOK_SECRET = ""
    settings.DEBUG = True
    document = client.get(URL).json()
    assert document["auth"] == "none" and document["accepting"] is True
    assert "POSTHOG_WEBHOOK_SECRET" in document["warnings"][0]


# --- Database trouble ------------------------------------------------------------------------
@contextlib.contextmanager
def failing_delivery_inserts(*, failures: int | None, message: str):
    """Fail the first `failures` (None: every) inserts of a delivery key with OperationalError,
    as a locked or unreachable database does, through Django's public query hook. Yields the
    number of attempts seen."""
    attempts = []

    def wrapper(execute, sql, params, many, context):
        if "INSERT" in sql and WebhookDelivery._meta.db_table in sql:
            attempts.append(sql)
            if failures is None or len(attempts) <= failures:
                raise OperationalError(message)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield attempts


@pytest.mark.django_db(transaction=True)  # a retry needs the view outside any transaction
def test_transient_database_error_is_retried(client):
    with failing_delivery_inserts(failures=1, message="database is locked") as attempts:
        response = post(client, pageview())
    assert response.status_code == HTTPStatus.OK
    assert len(attempts) == 2
    assert numbers(weeks.current_week_start()) == (1, 1)


@pytest.mark.django_db(transaction=True)
def test_database_that_stays_unavailable_is_503_so_posthog_retries(client, caplog):
    with (
        caplog.at_level(logging.ERROR),
        failing_delivery_inserts(failures=None, message="connection refused") as attempts,
    ):
        response = post(client, pageview())
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "retry" in response.json()["error"]
    assert response["Retry-After"]
    assert len(attempts) == 1 + len(tracker.pageviews.RECORD_RETRY_PAUSES)
    assert rows() == (0, 0, 0)


@pytest.mark.django_db(transaction=True)
def test_database_details_are_logged_not_answered(client, caplog):
    """The driver's message names the database's host, address and port: the log gets it,
    the answer (which PostHog shows in its logs) does not."""
    driver = 'could not connect to server at "db.internal" (10.1.2.3), port 5432'
    with caplog.at_level(logging.ERROR), failing_delivery_inserts(failures=None, message=driver):
        response = post(client, pageview())
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Retry-After"]
    assert response.json() == {
        "ok": False,
        "error": "The database is unavailable right now; PostHog will retry this delivery.",
    }
    for secret in ("db.internal", "10.1.2.3", "5432"):
        assert secret not in response.content.decode()
    assert any("db.internal" in r.getMessage() and "10.1.2.3" in r.getMessage() for r in caplog.records)


def metrics_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("metrics")]


CONTROL = "evil\nFAKE webhook key=forged status=counted\r\x1b[31m"
ESCAPED = "evil\\nFAKE webhook key=forged status=counted\\r\\x1b[31m"


def test_control_characters_from_a_delivery_are_escaped_in_the_log(client, caplog):
    """An event uuid (or a peer address) with a newline or a terminal escape must not start
    a forged log line or colour the operator's terminal: one line, escapes visible."""
    caplog.set_level(logging.DEBUG, logger="metrics")
    assert post(client, pageview(uuid=CONTROL)).json()["status"] == "counted"
    refused = client.post(
        URL, data=encode(pageview()), content_type="application/json", REMOTE_ADDR="10.0.0.1\n" + CONTROL
    )
    assert refused.status_code == HTTPStatus.UNAUTHORIZED
    lines = metrics_lines(caplog)
    assert any(ESCAPED in line and "key=" in line for line in lines), lines
    assert any(ESCAPED in line and "10.0.0.1\\n" in line for line in lines), lines
    for line in lines:
        assert not any(char in line for char in "\n\r\x1b"), repr(line)


@pytest.mark.django_db(transaction=True)
def test_control_characters_in_a_database_error_are_escaped_in_the_log(client, caplog):
    caplog.set_level(logging.DEBUG, logger="metrics")
    with failing_delivery_inserts(failures=None, message="server closed\nthe connection\x1b[0m"):
        response = post(client, pageview(uuid=CONTROL))
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    lines = metrics_lines(caplog)
    assert any("server closed\\nthe connection\\x1b[0m" in line and ESCAPED in line for line in lines)
    for line in lines:
        assert not any(char in line for char in "\n\r\x1b"), repr(line)


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's connection settings and the deadline's watchdog"
)


@postgresql_only
def test_postgresql_connections_carry_the_timeouts():
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == ("30s",)
    parameters = connection.connection.info.get_parameters()
    assert parameters["connect_timeout"] == "5"
    assert parameters["tcp_user_timeout"] == "10000"
    assert (parameters["keepalives"], parameters["keepalives_idle"]) == ("1", "5")


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_deadline_ends_a_query_that_waits_longer():
    from metrics.core.db_deadline import database_deadline

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    with database_deadline(1) as deadline, pytest.raises(OperationalError), connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(20)")
    assert deadline.expired
    connection.close_if_unusable_or_obsolete()  # what Django does at the end of a request
    with connection.cursor() as cursor:
        # A new connection. The server's backend sleeps on until it tries to answer (or its
        # statement_timeout ends it): end it, so the test database can be dropped.
        cursor.execute("SELECT pg_backend_pid() <> %s, pg_terminate_backend(%s)", [backend, backend])
        assert cursor.fetchone() == (True, True)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_delivery_waiting_on_a_locked_week_is_a_503_in_time_and_its_retry_counts_once(client, settings):
    """A sync's write transaction holds the week's row; a delivery must not wait past
    VISITORSYNC_WEBHOOK_DB_TIMEOUT (PostHog gives up after 10 s)."""
    settings.VISITORSYNC_WEBHOOK_DB_TIMEOUT = 1
    week = weeks.current_week_start()
    assert post(client, pageview()).status_code == HTTPStatus.OK
    locked, release = threading.Event(), threading.Event()

    def hold_the_week():
        try:
            with transaction.atomic():
                WeeklyMetric.objects.select_for_update().get(week_start=week)
                locked.set()
                release.wait(timeout=30)  # bounded: without the deadline the delivery waits for this
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_week)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        body = pageview()
        response = post(client, body)
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE, response.content
        assert response["Retry-After"]
    finally:
        release.set()
        holder.join(timeout=30)
    # The wait that ran out stalled the process (metrics.core.db_stall) until its probe had an
    # answer, which a lock wait does not delay: over at once, before PostHog's retry (1-3 s).
    given_up = time.monotonic() + 3
    while db_stall.stalled() and time.monotonic() < given_up:
        time.sleep(0.02)
    assert not db_stall.stalled()
    retry = post(client, body)
    assert retry.status_code == HTTPStatus.OK
    assert retry.json()["status"] in ("counted", "duplicate")  # the first attempt may have landed
    assert WebhookDelivery.objects.filter(key=WebhookDelivery.key_for(body["event"]["uuid"])).count() == 1
    assert numbers(week)[1] == 2


# --- Pruning and checks ------------------------------------------------------------------------
def test_sync_prunes_dedup_rows_older_than_the_retention_window(posthog_stub, settings):
    settings.VISITORSYNC_WEBHOOK_RETENTION_WEEKS = 3
    oldest = tracker.oldest_tracked_week()
    for age in range(5):
        week = oldest + weeks.ONE_WEEK * (2 - age)
        WebhookDelivery.objects.create(key=WebhookDelivery.key_for(f"event-{age}"), week_start=week)
        WeekVisitor.objects.create(week_start=week, visitor_hash=bytes([age] * 16))
    tracker.sync_all_metrics(tracker.SyncOptions(trigger="command"))
    kept = sorted(WebhookDelivery.objects.values_list("week_start", flat=True))
    assert kept == [oldest, oldest + weeks.ONE_WEEK, oldest + 2 * weeks.ONE_WEEK]
    assert sorted(WeekVisitor.objects.values_list("week_start", flat=True)) == kept


def test_failed_or_dry_run_sync_prunes_nothing(posthog_stub, settings, no_sleep):
    settings.VISITORSYNC_WEBHOOK_RETENTION_WEEKS = 1
    WebhookDelivery.objects.create(
        key=WebhookDelivery.key_for("old"), week_start=tracker.oldest_tracked_week() - weeks.ONE_WEEK
    )
    tracker.sync_all_metrics(tracker.SyncOptions(trigger="command", dry_run=True))
    posthog_stub.fail_next(403)
    with pytest.raises(tracker.SyncFailed):
        tracker.sync_all_metrics(tracker.SyncOptions(trigger="command"))
    assert WebhookDelivery.objects.count() == 1


def test_deploy_check_warns_without_a_webhook_secret(settings, capsys):
    settings.POSTHOG_WEBHOOK_SECRET = ""
    call_command("check", "--deploy")
    assert "metrics.W003" in capsys.readouterr().err
    settings.POSTHOG_WEBHOOK_SECRET = SECRET
    call_command("check", "--deploy")
    assert "metrics.W003" not in capsys.readouterr().err


def test_check_reports_a_malformed_signing_secret(settings):
    from django.core import checks

    settings.POSTHOG_WEBHOOK_SIGNING_SECRET = "whsec_***"
    errors = [m for m in checks.run_checks() if m.id == "metrics.E003"]
    assert errors and "whsec_" in errors[0].msg


def test_responses_are_json(client):
    for response in (
        post(client, pageview()),
        post(client, b"x"),
        client.get(URL),
        post(client, {}, secret=None),
    ):
        assert response["Content-Type"] == "application/json"
        json.loads(response.content)
