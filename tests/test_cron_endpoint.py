"""`/api/cron/sync-visitors`: authentication, parameters, outcomes, against the loopback stub."""

import datetime as dt
import http.client
import json
import logging
import urllib.parse
from http import HTTPStatus

import pytest
from django.urls import reverse

from metrics.core import weeks
from metrics.models import SyncRun, WeeklyMetric
from tests.support.helpers import CRON_SECRET, RUN_KEYS, expected, stored_numbers
from tests.support.posthog_stub import Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("endpoint_secrets")]

SECRET = CRON_SECRET
URL = "/api/cron/sync-visitors"


def auth(secret: str = SECRET) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def assert_nothing_ran(stub) -> None:
    assert SyncRun.objects.count() == 0
    assert WeeklyMetric.objects.count() == 0
    assert stub.query_count == 0


def test_url_is_named():
    assert reverse("cron_sync_visitors") == URL


# --- Authentication ------------------------------------------------------------------------
def test_missing_secret_is_401_and_nothing_runs(client, posthog_stub):
    response = client.post(URL)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert "Authorization: Bearer" in response.json()["error"]
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert_nothing_ran(posthog_stub)


def test_wrong_secret_of_the_same_length_is_401(client, posthog_stub):
    wrong = SECRET[:-1] + ("x" if SECRET[-1] != "x" else "y")
    assert len(wrong) == len(SECRET)
    assert client.post(URL, **auth(wrong)).status_code == HTTPStatus.UNAUTHORIZED
    assert_nothing_ran(posthog_stub)


@pytest.mark.parametrize("header", [f"Basic {SECRET}", SECRET, "Bearer", "Bearer  ", f"Token {SECRET}"])
def test_other_schemes_and_bare_secrets_are_401(client, posthog_stub, header):
    assert client.get(URL, HTTP_AUTHORIZATION=header).status_code == HTTPStatus.UNAUTHORIZED
    assert_nothing_ran(posthog_stub)


def test_secret_in_the_url_is_not_accepted(client, posthog_stub):
    response = client.get(f"{URL}?secret={SECRET}&token={SECRET}")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert_nothing_ran(posthog_stub)


def test_non_ascii_header_is_401_not_500(client, posthog_stub):
    assert client.post(URL, HTTP_AUTHORIZATION="Bearer cron-sécret").status_code == HTTPStatus.UNAUTHORIZED
    assert_nothing_ran(posthog_stub)


@pytest.mark.django_db(transaction=True)
def test_non_ascii_bytes_over_real_http_are_401_not_500(live_server, posthog_stub):
    """Raw UTF-8 bytes in the header, as a broken client sends them, through the WSGI server."""
    parts = urllib.parse.urlsplit(live_server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.putrequest("POST", URL)
    connection.putheader("Authorization", "Bearer cron-sécret-€".encode())
    connection.putheader("Content-Length", "0")
    connection.endheaders()
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    assert response.status == HTTPStatus.UNAUTHORIZED
    assert body["ok"] is False
    assert_nothing_ran(posthog_stub)


def test_rotation_accepts_every_listed_secret_and_only_those(client, settings, posthog_stub):
    settings.CRON_SECRET = "new-secret-aaaaaaaaaaaa, old-secret-bbbbbbbbbbbb"
    assert client.post(URL, **auth("old-secret-bbbbbbbbbbbb")).status_code == HTTPStatus.OK
    assert client.post(URL, **auth("new-secret-aaaaaaaaaaaa")).status_code == HTTPStatus.OK
    settings.CRON_SECRET = "new-secret-aaaaaaaaaaaa"  # rotation finished: the old one is gone
    assert client.post(URL, **auth("old-secret-bbbbbbbbbbbb")).status_code == HTTPStatus.UNAUTHORIZED
    assert SyncRun.objects.count() == 2


def test_no_secret_configured_with_debug_off_is_503_naming_the_setting(client, settings, posthog_stub):
    settings.CRON_SECRET = ""
    response = client.post(URL, **auth("anything"))
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "CRON_SECRET" in response.json()["error"]
    assert_nothing_ran(posthog_stub)


def test_no_secret_configured_with_debug_on_is_allowed(client, settings, posthog_stub):
    settings.CRON_SECRET = ""
    settings.DEBUG = True
    response = client.get(URL)
    assert response.status_code == HTTPStatus.OK
    assert SyncRun.objects.get().trigger == SyncRun.Trigger.CRON


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_are_405(client, posthog_stub, method):
    assert getattr(client, method)(URL, **auth()).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert_nothing_ran(posthog_stub)


# --- A sync --------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["get", "post"])
def test_get_and_post_run_a_full_sync_and_answer_the_summary(client, settings, posthog_stub, method):
    response = getattr(client, method)(URL, **auth())
    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"].startswith("max-age=0")
    body = response.json()
    run = SyncRun.objects.get()
    first = weeks.current_week_start() - dt.timedelta(weeks=11)
    assert stored_numbers() == expected(posthog_stub, settings, first)
    assert body["ok"] is True
    summary = body["run"]
    assert summary["id"] == run.pk
    assert summary["status"] == "succeeded"
    assert summary["trigger"] == "cron"
    assert (summary["weeks_checked"], summary["weeks_created"], summary["weeks_updated"]) == (12, 12, 0)
    assert summary["weeks_unchanged"] == 0
    assert summary["queries"] == posthog_stub.query_count == 1
    assert summary["duration_seconds"] >= 0
    assert summary["first_week"] == first.isoformat()
    assert len(summary["changes"]) == 12
    current = weeks.current_week_start()
    change = next(c for c in summary["changes"] if c["week"] == current.isoformat())
    assert change == {
        "week": current.isoformat(),
        "created": True,
        "visitors": [None, stored_numbers()[current][0]],
        "pageviews": [None, stored_numbers()[current][1]],
    }


def test_changes_show_before_and_after(client, posthog_stub):
    week = weeks.current_week_start() - dt.timedelta(weeks=1)
    WeeklyMetric.objects.create(week_start=week, visitors=999, pageviews=1999)
    body = client.post(URL, **auth()).json()
    after = stored_numbers()[week]
    assert {
        "week": week.isoformat(),
        "created": False,
        "visitors": [999, after[0]],
        "pageviews": [1999, after[1]],
    } in body["run"]["changes"]


def test_since_backfills_from_the_query_string(client, posthog_stub, settings):
    since = weeks.current_week_start() - dt.timedelta(weeks=19) + dt.timedelta(days=2)
    response = client.post(f"{URL}?since={since.isoformat()}", **auth())
    assert response.status_code == HTTPStatus.OK
    assert response.json()["run"]["weeks_created"] == 20
    assert stored_numbers() == expected(posthog_stub, settings, weeks.week_start_for_date(since))


def test_parameters_from_a_form_body(client, posthog_stub):
    since = weeks.current_week_start() - dt.timedelta(weeks=2)
    response = client.post(URL, {"since": since.isoformat(), "dry_run": "1"}, **auth())
    assert response.status_code == HTTPStatus.OK
    assert response.json()["run"]["dry_run"] is True
    assert response.json()["run"]["weeks_checked"] == 3
    assert WeeklyMetric.objects.count() == 0


@pytest.mark.parametrize("value", ["1", "true", "yes", "on", "TRUE"])
def test_dry_run_writes_nothing_but_reports_what_would_change(client, posthog_stub, value):
    response = client.get(f"{URL}?dry_run={value}", **auth())
    assert response.status_code == HTTPStatus.OK
    body = response.json()["run"]
    assert body["dry_run"] is True and body["weeks_created"] == 12 and len(body["changes"]) == 12
    assert WeeklyMetric.objects.count() == 0


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=2024-13-01", "since='2024-13-01' is not a date; use YYYY-MM-DD"),
        ("since=last%20week", "is not a date"),
        ("since=20240101", "is not a date"),
        ("dry_run=maybe", "dry_run='maybe' is not a yes/no value"),
        ("force=2", "force='2' is not a yes/no value"),
        ("dryrun=1", "Unknown parameter(s): dryrun. Accepted: since, dry_run, force, report."),
        ("dry_run=1&dry_run=0", "dry_run is given 2 times"),
    ],
)
def test_malformed_parameter_is_400_with_a_message_and_nothing_runs(client, posthog_stub, query, message):
    response = client.post(f"{URL}?{query}", **auth())
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert message in response.json()["error"]
    assert_nothing_ran(posthog_stub)


def test_same_parameter_in_query_and_body_is_400(client, posthog_stub):
    response = client.post(f"{URL}?dry_run=1", {"dry_run": "0"}, **auth())
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert_nothing_ran(posthog_stub)


def test_since_in_the_future_is_400(client, posthog_stub):
    future = dt.date.today() + dt.timedelta(days=60)
    response = client.get(f"{URL}?since={future.isoformat()}", **auth())
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "future" in response.json()["error"]
    assert_nothing_ran(posthog_stub)


def test_json_body_is_refused_rather_than_ignored(client, posthog_stub):
    """`{"dry_run": true}` in JSON would otherwise be ignored and run a real sync."""
    response = client.post(URL, data={"dry_run": True}, content_type="application/json", **auth())
    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    assert "query string or as form fields" in response.json()["error"]
    assert_nothing_ran(posthog_stub)


# --- Outcomes ------------------------------------------------------------------------------
def test_a_running_sync_is_409_with_its_id_trigger_and_start(client, posthog_stub):
    holder = SyncRun.objects.create(trigger=SyncRun.Trigger.CRONTAB)
    response = client.post(URL, **auth())
    assert response.status_code == HTTPStatus.CONFLICT
    body = response.json()
    assert set(body["running"]) == RUN_KEYS
    assert {key: body["running"][key] for key in ("id", "trigger", "started_at", "status")} == {
        "id": holder.pk,
        "trigger": "crontab",
        "started_at": holder.started_at.isoformat(),
        "status": "running",
    }
    assert f"Sync #{holder.pk} (Crontab job)" in body["error"]
    assert SyncRun.objects.count() == 1
    assert posthog_stub.query_count == 0


def test_posthog_failure_is_502_with_the_clients_message_and_changes_nothing(client, posthog_stub):
    week = weeks.current_week_start()
    WeeklyMetric.objects.create(week_start=week, visitors=3, pageviews=4)
    posthog_stub.fail_next(HTTPStatus.UNAUTHORIZED, {"detail": "Invalid personal API key."})
    response = client.post(URL, **auth())
    assert response.status_code == HTTPStatus.BAD_GATEWAY
    body = response.json()
    assert "rejected the API key" in body["error"] and "Query Read" in body["error"]
    run = SyncRun.objects.get()
    assert body["run"]["id"] == run.pk and body["run"]["status"] == "failed"
    assert run.status == SyncRun.Status.FAILED and run.trigger == SyncRun.Trigger.CRON
    assert stored_numbers() == {week: (3, 4)}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (lambda w: [[w, 5.9, 10]], "not a whole number"),
        (lambda w: [[w, True, 2**31 + 1]], "not a whole number"),
        (lambda w: [[w, 2**63, 2**63]], "not a whole number"),
        (lambda w: [[w, 1, 2], [w, 3, 4]], "twice in one answer"),
    ],
    ids=["float", "bool", "beyond-64-bits", "week-twice"],
)
def test_an_impossible_answer_is_502_with_the_reason_and_changes_nothing(client, posthog_stub, rows, message):
    week = weeks.current_week_start()
    WeeklyMetric.objects.create(week_start=week, visitors=3, pageviews=4)
    posthog_stub.answer_next({"results": rows(week.isoformat()), "hasMore": False})
    response = client.post(URL, **auth())
    assert response.status_code == HTTPStatus.BAD_GATEWAY
    body = response.json()
    assert body["ok"] is False and message in body["error"]
    assert body["run"]["status"] == "failed" and message in SyncRun.objects.get().error
    assert stored_numbers() == {week: (3, 4)}


def test_a_redirect_to_a_url_holding_the_api_key_shows_the_key_nowhere(
    client, admin_client, posthog_stub, caplog
):
    key = posthog_stub.api_key
    caplog.set_level(logging.DEBUG)
    posthog_stub.fail_next(HTTPStatus.FOUND, "", Location=f"https://evil.example/steal?Bearer%20{key}")
    response = client.post(URL, **auth())
    assert response.status_code == HTTPStatus.BAD_GATEWAY
    body = response.content.decode()
    assert "redirect (302) to https://evil.example/steal." in response.json()["error"]
    run = SyncRun.objects.get()
    seen = {
        "cron answer": body,
        "stored error": run.error,
        "admin sync page": admin_client.get("/admin/metrics/weeklymetric/sync/").content.decode(),
        "admin run page": admin_client.get(f"/admin/metrics/syncrun/{run.pk}/change/").content.decode(),
        "log": "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records),
    }
    assert "evil.example/steal" in seen["admin sync page"] and "evil.example/steal" in seen["log"]
    for where, text in seen.items():
        assert key not in text and key not in urllib.parse.unquote(text), f"the API key is in the {where}"


def test_posthog_not_configured_is_503_and_recorded(client, settings, posthog_stub):
    settings.POSTHOG_API_KEY = ""
    response = client.post(URL, **auth())
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "POSTHOG_API_KEY" in response.json()["error"]
    assert SyncRun.objects.get().status == SyncRun.Status.FAILED
    assert posthog_stub.query_count == 0


def test_wipeout_is_422_and_force_overrides(client, settings, posthog_stub):
    settings.VISITORSYNC_EVENT = "$no_such_event"
    week = weeks.current_week_start() - dt.timedelta(weeks=2)
    WeeklyMetric.objects.create(week_start=week, visitors=40, pageviews=100)
    refused = client.post(URL, **auth())
    assert refused.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "force=1" in refused.json()["error"]
    assert refused.json()["run"]["status"] == "failed"
    assert stored_numbers() == {week: (40, 100)}

    forced = client.post(f"{URL}?force=1", **auth())
    assert forced.status_code == HTTPStatus.OK
    assert forced.json()["run"]["forced"] is True
    assert stored_numbers()[week] == (0, 0)


# --- Catch-up ------------------------------------------------------------------------------
def add_events(stub, week: dt.date, *, persons: int, tz_name: str) -> None:
    """Late events in the middle of `week` (as PostHog would have after ingesting them)."""
    noon = dt.datetime.combine(week + dt.timedelta(days=3), dt.time(12), tzinfo=dt.UTC)
    for n in range(persons):
        stub.events.append(Event(f"late-{week}-{n}", "$pageview", f"late-person-{week}-{n}", noon))


def test_scheduled_run_corrects_recent_weeks_and_weeks_changed_since_the_last_success(
    client, settings, posthog_stub
):
    """A full sync re-reads every stored week: late events, person merges and old corrections."""
    client.post(URL, **auth())
    current = weeks.current_week_start()
    last_week = current - dt.timedelta(weeks=1)
    old_week = current - dt.timedelta(weeks=9)
    for week in (current, last_week, old_week):
        add_events(posthog_stub, week, persons=5, tz_name=settings.VISITORSYNC_TIMEZONE)
    before = stored_numbers()

    body = client.post(URL, **auth()).json()

    after = stored_numbers()
    assert after == expected(posthog_stub, settings, current - dt.timedelta(weeks=11))
    for week in (current, last_week, old_week):
        assert after[week] == (before[week][0] + 5, before[week][1] + 5)
    assert sorted(c["week"] for c in body["run"]["changes"]) == sorted(
        w.isoformat() for w in (old_week, last_week, current)
    )
    assert body["run"]["weeks_unchanged"] == 9


def test_a_dropped_schedule_loses_nothing(client, settings, posthog_stub):
    """The last success was weeks ago: the next run fills and checks every week since then."""
    current = weeks.current_week_start()
    stale_first = current - dt.timedelta(weeks=15)
    for week in weeks.week_range(stale_first, current - dt.timedelta(weeks=8)):
        WeeklyMetric.objects.create(week_start=week, visitors=1, pageviews=1)

    body = client.post(URL, **auth()).json()

    assert body["run"]["first_week"] == stale_first.isoformat()
    assert body["run"]["weeks_created"] == 8
    assert stored_numbers() == expected(posthog_stub, settings, stale_first)
