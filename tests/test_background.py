"""Claiming the sync lock before the work (`start_sync_all_metrics`) and running it in a thread."""

import pytest

from metrics import tracker
from metrics.jobs import background
from metrics.jobs.thread_backend import ThreadBackend
from metrics.models import SyncRun, WeeklyMetric


@pytest.mark.django_db(transaction=True)
def test_claimed_sync_holds_the_lock_until_executed_in_a_thread(posthog_stub, settings, background_syncs):
    pending = tracker.start_sync_all_metrics(
        tracker.SyncOptions(trigger=SyncRun.Trigger.ADMIN, started_by="ann")
    )
    assert pending.run.status == SyncRun.Status.RUNNING and posthog_stub.query_count == 0
    with pytest.raises(tracker.SyncInProgress) as caught:
        tracker.start_sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.CRON))
    assert caught.value.run == pending.run
    background.execute_in_background(pending)
    assert background_syncs.wait_until_finished(pending.run.pk).status == SyncRun.Status.SUCCEEDED
    assert WeeklyMetric.objects.count() == settings.VISITORSYNC_BACKFILL_WEEKS
    # The lock is free again.
    assert (
        tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.CRON)).weeks_unchanged
        == settings.VISITORSYNC_BACKFILL_WEEKS
    )


@pytest.mark.django_db(transaction=True)
def test_a_failed_background_sync_is_recorded_and_frees_the_lock(posthog_stub, no_sleep, background_syncs):
    posthog_stub.fail_next(404)
    pending = tracker.start_sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.ADMIN))
    background.execute_in_background(pending)
    run = background_syncs.wait_until_finished(pending.run.pk)
    assert run.status == SyncRun.Status.FAILED and "POSTHOG_PROJECT_ID" in run.error
    assert not SyncRun.objects.filter(status=SyncRun.Status.RUNNING).exists()


@pytest.mark.django_db(transaction=True)
def test_a_claimed_sync_the_queue_refuses_gives_its_lock_back(posthog_stub, monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("queue is down")

    pending = tracker.start_sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.ADMIN))
    monkeypatch.setattr(ThreadBackend, "enqueue", refuse)
    with pytest.raises(RuntimeError, match="queue is down"):
        background.execute_in_background(pending)
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.FAILED
    assert run.error == "Could not start the sync in the background (RuntimeError: queue is down)."
    assert posthog_stub.query_count == 0
    assert tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.CRON)).status == "succeeded"


def test_a_queued_sync_that_lost_its_lock_is_not_run(posthog_stub, db):
    """A task that waited in the queue past the abandon limit must not sync on top of a newer run."""
    pending = tracker.start_sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.ADMIN))
    SyncRun.objects.filter(pk=pending.run.pk).update(status=SyncRun.Status.FAILED, error="Abandoned")
    assert tracker.execute_claimed_sync(pending.run.pk) is None
    assert posthog_stub.query_count == 0 and WeeklyMetric.objects.count() == 0


def test_a_worker_runs_the_claimed_sync_from_its_id(posthog_stub, settings, db):
    pending = tracker.start_sync_all_metrics(
        tracker.SyncOptions(trigger=SyncRun.Trigger.ADMIN, dry_run=True, started_by="ann")
    )
    run = tracker.execute_claimed_sync(pending.run.pk)
    assert run.pk == pending.run.pk and run.status == SyncRun.Status.SUCCEEDED
    assert (run.dry_run, run.started_by, run.weeks_checked) == (
        True,
        "ann",
        settings.VISITORSYNC_BACKFILL_WEEKS,
    )
    assert WeeklyMetric.objects.count() == 0  # a dry run, as claimed
