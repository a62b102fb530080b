"""Every door runs the alert check through metrics.jobs, as before the tracker stopped doing it:
after a sync (command, cron endpoint, admin page and action, crontab job, task worker) and
after a report. The tracker alone checks nothing."""

from http import HTTPStatus

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from metrics import tracker
from metrics.jobs import crontab, tasks
from metrics.models import Alert, SyncRun
from tests.support.admin import SYNC_URL, staff
from tests.support.helpers import CRON_SECRET

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing_posthog(posthog_stub):
    """PostHog refuses the key: any sync fails and is recorded, so the check opens 'Sync failed'."""
    posthog_stub.fail_next(HTTPStatus.UNAUTHORIZED)
    return posthog_stub


def sync_failed_alerts() -> list[Alert]:
    return list(Alert.objects.filter(kind=Alert.Kind.SYNC_FAILED, resolved_at__isnull=True))


def test_the_tracker_alone_runs_no_alert_check(failing_posthog):
    with pytest.raises(tracker.SyncFailed):
        tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND))
    assert SyncRun.objects.get().status == SyncRun.Status.FAILED
    assert sync_failed_alerts() == []


def test_the_command_checks_alerts_after_a_sync(failing_posthog):
    with pytest.raises(CommandError):
        call_command("sync_visitors", verbosity=0)
    assert len(sync_failed_alerts()) == 1


def test_the_cron_endpoint_checks_alerts_after_a_sync(client, settings, failing_posthog):
    settings.CRON_SECRET = CRON_SECRET
    response = client.post(reverse("cron_sync_visitors"), headers={"Authorization": f"Bearer {CRON_SECRET}"})
    assert response.status_code == HTTPStatus.BAD_GATEWAY
    assert len(sync_failed_alerts()) == 1


def test_the_admin_page_checks_alerts_after_a_sync(client, failing_posthog):
    client.force_login(staff("syncer", "view_weeklymetric", "sync_weeklymetric"))
    response = client.post(SYNC_URL, {"dry_run": ""})
    assert response.status_code == HTTPStatus.FOUND
    assert SyncRun.objects.get().status == SyncRun.Status.FAILED
    assert len(sync_failed_alerts()) == 1


def test_the_admin_action_checks_alerts_after_a_sync(client, failing_posthog):
    from metrics.core import weeks
    from metrics.models import WeeklyMetric

    week = WeeklyMetric.objects.create(week_start=weeks.current_week_start() - weeks.ONE_WEEK)
    client.force_login(staff("syncer", "view_weeklymetric", "sync_weeklymetric"))
    response = client.post(
        reverse("admin:metrics_weeklymetric_changelist"),
        {"action": "sync_selected_weeks", "_selected_action": [week.pk]},
    )
    assert response.status_code == HTTPStatus.FOUND
    assert SyncRun.objects.get().trigger == SyncRun.Trigger.ADMIN_ACTION
    assert len(sync_failed_alerts()) == 1


def test_the_crontab_job_checks_alerts_after_a_sync(failing_posthog):
    crontab.sync_visitors_job()
    assert SyncRun.objects.get().status == SyncRun.Status.FAILED
    assert len(sync_failed_alerts()) == 1


def test_the_task_worker_checks_alerts_after_a_claimed_sync(failing_posthog):
    pending = tracker.start_sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.ADMIN))
    tasks.run_claimed_sync.call(pending.run.pk)  # what a worker runs for the queued task
    assert SyncRun.objects.get().status == SyncRun.Status.FAILED
    assert len(sync_failed_alerts()) == 1


def test_a_report_checks_alerts_too(settings):
    # A failure recorded without a check (as by a process that died before its check ran).
    SyncRun.objects.create(
        trigger=SyncRun.Trigger.CRON, status=SyncRun.Status.FAILED, finished_at=timezone.now(), error="boom"
    )
    with pytest.raises(CommandError):  # no week stored yet: no report, but the check still runs
        call_command("send_weekly_report")
    assert len(sync_failed_alerts()) == 1


def test_a_dry_run_report_checks_nothing():
    SyncRun.objects.create(
        trigger=SyncRun.Trigger.CRON, status=SyncRun.Status.FAILED, finished_at=timezone.now(), error="boom"
    )
    with pytest.raises(CommandError):
        call_command("send_weekly_report", "--dry-run")
    assert sync_failed_alerts() == []
