"""A sync as a door runs it: the tracker's sync, then the alert check, whatever the outcome.

The alert check runs once the run is recorded (succeeded or failed), and not when nothing
ran (a bad request, another sync holding the lock) or when the database itself failed (the
alert state lives there; the next sync's check reports it).
"""

import datetime as dt
from collections.abc import Iterable

from metrics import tracker
from metrics.models import SyncRun
from metrics.reports import alerts


def sync_all_metrics(
    options: tracker.SyncOptions, *, progress: tracker.ProgressCallback | None = None
) -> SyncRun:
    """`tracker.sync_all_metrics`, then the alert check."""
    return execute(tracker.start_sync_all_metrics(options), progress=progress)


def sync_weeks(
    options: tracker.SyncOptions,
    *,
    week_starts: Iterable[dt.date],
    progress: tracker.ProgressCallback | None = None,
) -> SyncRun:
    """`tracker.sync_weeks`, then the alert check."""
    return execute(tracker.start_sync_weeks(options, week_starts=week_starts), progress=progress)


def sync_metric_by_id(
    options: tracker.SyncOptions, *, metric_id: int, progress: tracker.ProgressCallback | None = None
) -> SyncRun:
    """`tracker.sync_metric_by_id`, then the alert check."""
    return execute(tracker.start_sync_metric_by_id(options, metric_id=metric_id), progress=progress)


def execute_claimed_sync(run_id: int) -> SyncRun | None:
    """The sync a task worker was handed (by run id), then the alert check; None when the run
    no longer holds the lock (nothing ran)."""
    pending = tracker.resume_claimed_sync(run_id)
    return execute(pending) if pending else None


def execute(pending: tracker.PendingSync, *, progress: tracker.ProgressCallback | None = None) -> SyncRun:
    """Run a sync that holds the lock, then check the alerts (whatever the outcome, which is
    recorded by then); raises what `PendingSync.execute` raises."""
    try:
        run = pending.execute(progress=progress)
    except tracker.DatabaseUnavailable:
        raise
    except Exception:
        alerts.check_after_sync()
        raise
    alerts.check_after_sync()
    return run
