"""`/api/sync`: what monitors see, in a fixed number of queries, without secrets or visitors."""

import datetime as dt
from http import HTTPStatus

import pytest
from django.urls import reverse

from metrics import tracker
from metrics.core import weeks
from metrics.models import SyncRun, WeeklyMetric
from tests.support.helpers import CRON_SECRET, PUBLIC_RUN_KEYS, WEBHOOK_SECRET

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("endpoint_secrets")]

URL = "/api/sync"


def make_history(*, weeks_stored: int, runs: int) -> None:
    current = weeks.current_week_start()
    WeeklyMetric.objects.bulk_create(
        WeeklyMetric(week_start=current - dt.timedelta(weeks=n), visitors=n, pageviews=2 * n)
        for n in range(weeks_stored)
    )
    now = dt.datetime.now(dt.UTC)
    SyncRun.objects.bulk_create(
        SyncRun(
            trigger=SyncRun.Trigger.CRON,
            status=SyncRun.Status.SUCCEEDED if n % 3 else SyncRun.Status.FAILED,
            error="" if n % 3 else "PostHog rejected the API key",
            started_at=now - dt.timedelta(hours=n + 1),
            finished_at=now - dt.timedelta(hours=n + 1) + dt.timedelta(seconds=5),
        )
        for n in range(runs)
    )


def test_url_is_named():
    assert reverse("sync_status") == URL


def test_reports_configuration_history_and_weeks(client, posthog_stub):
    tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND))
    posthog_stub.fail_next(HTTPStatus.NOT_FOUND)
    with pytest.raises(tracker.SyncFailed):
        tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.CRON))
    response = client.get(URL)
    assert response.status_code == HTTPStatus.OK
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    success = SyncRun.objects.get(status=SyncRun.Status.SUCCEEDED)
    failure = SyncRun.objects.get(status=SyncRun.Status.FAILED)
    assert body["healthy"] is True
    assert body["posthog_configured"] is True
    assert body["missing_settings"] == []
    assert body["cron_secret_configured"] is True
    assert body["webhook_secret_configured"] is True
    assert body["schedule"] == "0 */6 * * *"
    assert body["stale"] is False
    assert body["stale_after_seconds"] == 12 * 3600
    assert body["running"] is None
    assert body["last_run"]["id"] == failure.pk
    assert body["last_run"]["status"] == "failed" and body["last_run"]["failed"] is True
    assert body["last_run"]["trigger"] == "cron"
    assert "error" not in body["last_run"]  # only for a caller with the cron secret
    assert body["last_success"]["id"] == success.pk and body["last_success"]["trigger"] == "command"
    assert 0 <= body["last_success"]["age_seconds"] < 3600
    assert (body["success_count"], body["failure_count"]) == (1, 1)
    assert body["weeks_stored"] == 12
    assert body["newest_week"] == weeks.current_week_start().isoformat()
    assert body["oldest_week"] == (weeks.current_week_start() - dt.timedelta(weeks=11)).isoformat()


def test_error_text_is_shown_to_a_caller_with_the_cron_secret(client, posthog_stub):
    posthog_stub.fail_next(HTTPStatus.NOT_FOUND)
    with pytest.raises(tracker.SyncFailed):
        tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.CRON))
    body = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {CRON_SECRET}").json()
    assert "PostHog has no project" in body["last_run"]["error"]
    wrong = client.get(URL, HTTP_AUTHORIZATION="Bearer wrong").json()
    assert "error" not in wrong["last_run"]


def test_never_synced_is_stale_and_unhealthy(client, settings):
    settings.CRON_SECRET = ""
    settings.POSTHOG_WEBHOOK_SECRET = ""
    body = client.get(URL).json()
    assert body["stale"] is True and body["healthy"] is False
    assert body["last_run"] is None and body["last_success"] is None
    assert body["cron_secret_configured"] is False and body["webhook_secret_configured"] is False
    assert (body["weeks_stored"], body["newest_week"]) == (0, None)


def test_missing_posthog_settings_are_named_not_valued(client, settings):
    settings.POSTHOG_API_KEY = ""
    body = client.get(URL).json()
    assert body["posthog_configured"] is False and body["healthy"] is False
    assert body["missing_settings"] == ["POSTHOG_API_KEY"]


def test_a_running_sync_shows_its_progress(client):
    running = SyncRun.objects.create(trigger=SyncRun.Trigger.ADMIN, phase="Asking PostHog", weeks_total=12)
    body = client.get(URL).json()
    # The public view of a run: no started_by, error or changes for an anonymous caller.
    assert set(body["running"]) == PUBLIC_RUN_KEYS
    assert {
        key: body["running"][key]
        for key in ("id", "trigger", "started_at", "phase", "weeks_done", "weeks_total")
    } == {
        "id": running.pk,
        "trigger": "admin",
        "started_at": running.started_at.isoformat(),
        "phase": "Asking PostHog",
        "weeks_done": 0,
        "weeks_total": 12,
    }
    assert body["last_run"] is None  # the running one is not a finished run


def test_no_secrets_and_no_visitor_ids_in_the_answer(client, settings, posthog_stub):
    tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND))
    for headers in ({}, {"HTTP_AUTHORIZATION": f"Bearer {CRON_SECRET}"}):
        text = client.get(URL, **headers).content.decode()
        for secret in (CRON_SECRET, WEBHOOK_SECRET, settings.POSTHOG_API_KEY, settings.SECRET_KEY):
            assert secret not in text
        assert "person-" not in text


@pytest.mark.parametrize(("weeks_stored", "runs"), [(0, 0), (3, 2), (400, 300)])
def test_query_count_is_fixed_however_many_weeks_and_runs(
    client, django_assert_num_queries, weeks_stored, runs
):
    make_history(weeks_stored=weeks_stored, runs=runs)
    with django_assert_num_queries(5):
        response = client.get(URL)
    assert response.json()["weeks_stored"] == weeks_stored
    assert response.json()["success_count"] + response.json()["failure_count"] == runs


def test_only_get(client):
    assert client.post(URL).status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_a_wrong_setting_is_named_and_explained_to_a_trusted_caller(client, settings):
    # Issue 20 #16: a project key (phc_) is set, so nothing is "missing", yet syncing cannot work.
    settings.POSTHOG_API_KEY = "phc_projectkeyvalue123"
    body = client.get(URL).json()
    assert body["posthog_configured"] is False and body["missing_settings"] == []
    assert body["settings_to_fix"] == ["POSTHOG_API_KEY"]
    assert "configuration_problems" not in body  # anonymous: names only
    trusted = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {CRON_SECRET}").json()
    assert trusted["settings_to_fix"] == ["POSTHOG_API_KEY"]
    assert len(trusted["configuration_problems"]) == 1
    assert "project API key (phc_...)" in trusted["configuration_problems"][0]
    assert "phc_projectkeyvalue123" not in str(body) + str(trusted)


def test_settings_to_fix_is_empty_when_configured(client):
    body = client.get(URL).json()
    assert body["posthog_configured"] is True and body["settings_to_fix"] == []
