"""Claiming the sync lock before the work (`start_sync_all_metrics`) and running it in a thread."""

import pytest

from metrics import background, tracker
from metrics.models import SyncRun, WeeklyMetric


@pytest.mark.django_db(transaction=True)
def test_claimed_sync_holds_the_lock_until_executed_in_a_thread(posthog_stub, settings):
    pending = tracker.start_sync_all_metrics(
        tracker.SyncOptions(trigger=SyncRun.Trigger.ADMIN, started_by="ann")
    )
    assert pending.run.status == SyncRun.Status.RUNNING and posthog_stub.query_count == 0
    with pytest.raises(tracker.SyncInProgress) as caught:
        tracker.start_sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.CRON))
    assert caught.value.run == pending.run
    background.execute_in_background(pending)
    assert background.wait_for(pending.run.pk, timeout=30)
    pending.run.refresh_from_db()
    assert pending.run.status == SyncRun.Status.SUCCEEDED
    assert WeeklyMetric.objects.count() == settings.VISITORSYNC_BACKFILL_WEEKS
    # The lock is free again.
    assert (
        tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.CRON)).weeks_unchanged
        == settings.VISITORSYNC_BACKFILL_WEEKS
    )


@pytest.mark.django_db(transaction=True)
def test_a_failed_background_sync_is_recorded_and_frees_the_lock(posthog_stub, no_sleep):
    posthog_stub.fail_next(404)
    pending = tracker.start_sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.ADMIN))
    background.execute_in_background(pending)
    assert background.wait_for(pending.run.pk, timeout=30)
    pending.run.refresh_from_db()
    assert pending.run.status == SyncRun.Status.FAILED and "POSTHOG_PROJECT_ID" in pending.run.error
    assert not SyncRun.objects.filter(status=SyncRun.Status.RUNNING).exists()


def test_waiting_for_an_unknown_run_returns_at_once():
    assert background.wait_for(10**9, timeout=0)
