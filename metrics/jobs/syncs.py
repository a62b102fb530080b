"""A sync as a door runs it: the tracker's sync, then the alert check, whatever the outcome.

The alert check runs once the run is recorded (succeeded or failed), and not when nothing
ran (a bad request, another sync holding the lock) or when the database itself failed (the
alert state lives there; the next sync's check reports it).
"""

import datetime as dt
from collections.abc import Iterable

from metrics import tracker
from metrics.jobs.after_answer import AfterAnswer
from metrics.models import SyncRun
from metrics.reports import alerts


def sync_all_metrics(
    options: tracker.SyncOptions,
    *,
    progress: tracker.ProgressCallback | None = None,
    after: AfterAnswer | None = None,
) -> SyncRun:
    """`tracker.sync_all_metrics`, then the alert check (added to `after`, if given)."""
    return execute(tracker.start_sync_all_metrics(options), progress=progress, after=after)


def sync_weeks(
    options: tracker.SyncOptions,
    *,
    week_starts: Iterable[dt.date],
    progress: tracker.ProgressCallback | None = None,
    after: AfterAnswer | None = None,
) -> SyncRun:
    """`tracker.sync_weeks`, then the alert check (added to `after`, if given)."""
    return execute(tracker.start_sync_weeks(options, week_starts=week_starts), progress=progress, after=after)


def sync_metric_by_id(
    options: tracker.SyncOptions,
    *,
    metric_id: int,
    progress: tracker.ProgressCallback | None = None,
    after: AfterAnswer | None = None,
) -> SyncRun:
    """`tracker.sync_metric_by_id`, then the alert check (added to `after`, if given)."""
    return execute(
        tracker.start_sync_metric_by_id(options, metric_id=metric_id), progress=progress, after=after
    )


def execute_claimed_sync(run_id: int) -> SyncRun | None:
    """The sync a task worker was handed (by run id), then the alert check; None when the run
    no longer holds the lock (nothing ran)."""
    pending = tracker.resume_claimed_sync(run_id)
    return execute(pending) if pending else None


def execute(
    pending: tracker.PendingSync,
    *,
    progress: tracker.ProgressCallback | None = None,
    after: AfterAnswer | None = None,
) -> SyncRun:
    """Run a sync that holds the lock, then check the alerts (whatever the outcome, which is
    recorded by then): now, or with `after` once the door has answered (its mail and webhook
    sends never hold the answer); raises what `PendingSync.execute` raises."""
    check = after.add if after is not None else _now
    try:
        run = pending.execute(progress=progress)
    except tracker.DatabaseUnavailable:
        raise
    except Exception:
        check(alerts.check_after_sync)
        raise
    check(alerts.check_after_sync)
    return run


def _now(work) -> None:
    work()
