"""Starting a sync: which weeks, its options, and taking the lock.

Each entry point plans the weeks, takes the lock (`lock.claim`) and returns a `PendingSync`,
or runs it at once. `execution.py` defines `SyncOptions` and `PendingSync` and runs it: ask
PostHog range by range, compare, refuse a wipe-out, write in one transaction. When any query
fails, nothing is written and the run is recorded as failed.
"""

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Max, Min

from metrics.core import weeks
from metrics.core.errors import InvalidSyncRequest, UnknownWeek
from metrics.models import SyncRun, WeeklyMetric
from metrics.posthog import PostHogClient
from metrics.tracker import lock, metric_values, ranges
from metrics.tracker.execution import PendingSync, SyncOptions
from metrics.tracker.lock import ProgressCallback

logger = logging.getLogger(__name__)


# --- Entry points ----------------------------------------------------------------------------
def sync_all_metrics(options: SyncOptions, *, progress: ProgressCallback | None = None) -> SyncRun:
    """Sync every week from the earliest stored week (or `options.since`) through the current week.

    Until PostHog has confirmed some week, starts at least `VISITORSYNC_BACKFILL_WEEKS`
    weeks back. Missing weeks are created so the table has no gaps. Returns the finished
    SyncRun; raises InvalidSyncRequest (nothing ran), SyncInProgress, or SyncFailed
    (recorded, nothing changed).
    """
    return start_sync_all_metrics(options).execute(progress=progress)


def start_sync_all_metrics(options: SyncOptions) -> PendingSync:
    """Take the lock for a sync like `sync_all_metrics` and return it without asking PostHog.

    Raises SyncInProgress at once when another sync holds the lock, so a caller (the admin
    page) can answer immediately and run `PendingSync.execute()` elsewhere, e.g. in a thread.
    """
    return _start(week_starts=_all_weeks(since=options.since), options=options)


def sync_weeks(
    options: SyncOptions, *, week_starts: Iterable[dt.date], progress: ProgressCallback | None = None
) -> SyncRun:
    """Sync just these weeks (each must be a week start), creating any that are missing."""
    return start_sync_weeks(options, week_starts=week_starts).execute(progress=progress)


def start_sync_weeks(options: SyncOptions, *, week_starts: Iterable[dt.date]) -> PendingSync:
    """Take the lock for a sync like `sync_weeks`; raises InvalidSyncRequest or SyncInProgress."""
    if options.since is not None:
        raise InvalidSyncRequest("since applies to a full sync, not to a list of weeks.")
    selected = sorted(set(week_starts))
    if not selected:
        raise InvalidSyncRequest("no weeks to sync")
    for week in selected:
        if not weeks.is_week_start(week):
            raise InvalidSyncRequest(f"{week} is not a week start")
    return _start(week_starts=selected, options=options)


def sync_metric_by_id(
    options: SyncOptions, *, metric_id: int, progress: ProgressCallback | None = None
) -> SyncRun:
    """Re-sync one stored week; raises UnknownWeek for an id no stored week has."""
    return start_sync_metric_by_id(options, metric_id=metric_id).execute(progress=progress)


def start_sync_metric_by_id(options: SyncOptions, *, metric_id: int) -> PendingSync:
    """Take the lock for a sync like `sync_metric_by_id`; raises UnknownWeek for an unknown id."""
    week = WeeklyMetric.objects.filter(pk=metric_id).values_list("week_start", flat=True).first()
    if week is None:
        raise UnknownWeek(f"No stored week has id {metric_id}.")
    return start_sync_weeks(options, week_starts=[week])


def execute_claimed_sync(run_id: int) -> SyncRun | None:
    """Run the full sync whose lock `start_sync_all_metrics` took, maybe in another process.

    Returns the finished SyncRun, or None when the run no longer holds the lock; raises like
    `sync_all_metrics` otherwise.
    """
    pending = resume_claimed_sync(run_id)
    return pending.execute() if pending else None


def resume_claimed_sync(run_id: int) -> PendingSync | None:
    """The pending sync of a run that `start_sync_all_metrics` claimed (a task worker has its id),
    or None when the run no longer holds the lock (it was presumed dead while it waited in the
    queue)."""
    run = SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.RUNNING).first()
    if run is None:
        logger.warning("sync run=%s no longer holds the lock; not running it", run_id)
        return None
    options = SyncOptions(
        trigger=run.trigger, dry_run=run.dry_run, force=run.forced, started_by=run.started_by
    )
    week_starts = list(weeks.week_range(run.first_week, run.last_week))
    return PendingSync(run=run, week_starts=week_starts, options=options, client=PostHogClient())


@dataclasses.dataclass(frozen=True)
class PlannedQuery:
    """The first query the next full sync sends, to show (and paste into PostHog's SQL editor)."""

    first_week: dt.date
    last_week: dt.date
    query: dict  # the HogQLQuery: "query" (the HogQL) and, with test accounts filtered, "filters"


def next_sync_query(*, client: PostHogClient | None = None) -> PlannedQuery:
    """What `sync_all_metrics` with default options would ask PostHog first; asks nothing."""
    week_starts = _all_weeks(since=None)
    first, last = ranges.chunk_ranges(week_starts[0], week_starts[-1], size=ranges.starting_chunk_weeks())[0]
    query = (client or PostHogClient()).weekly_counts_query(
        first_week=first, last_week=last, metrics=metric_values.counted_metrics()
    )
    return PlannedQuery(first_week=first, last_week=last, query=query)


# --- Planning and starting -------------------------------------------------------------------
def _all_weeks(*, since: dt.date | None) -> list[dt.date]:
    last = weeks.current_week_start()
    if since is not None:
        if since < weeks.EARLIEST_DAY:
            raise InvalidSyncRequest(
                f"since={since} is before {weeks.EARLIEST_DAY}; PostHog holds no data that old. "
                "Pick a later date."
            )
        first = weeks.week_start_for_date(since)
        if first > last:
            raise InvalidSyncRequest(
                f"since={since} is in the future; give a date in a past or the current week."
            )
    else:
        # A row older than PostHog's data (put there by hand or SQL) must not make every
        # sync crash on year-1 arithmetic or spend thousands of queries: it is ignored.
        stored = WeeklyMetric.objects.filter(week_start__gte=weeks.EARLIEST_DAY).aggregate(
            first=Min("week_start"), synced=Max("synced_at")
        )
        backfill_from = last - weeks.ONE_WEEK * (settings.VISITORSYNC_BACKFILL_WEEKS - 1)
        earliest = weeks.week_start_for_date(stored["first"]) if stored["first"] else backfill_from
        # Weeks the webhook created before the first sync are not history: still backfill.
        first = earliest if stored["synced"] else min(earliest, backfill_from)
    return list(weeks.week_range(first, last))


def _start(*, week_starts: list[dt.date], options: SyncOptions) -> PendingSync:
    run = lock.claim(
        trigger=options.trigger,
        dry_run=options.dry_run,
        forced=options.force,
        started_by=options.started_by,
        first_week=week_starts[0],
        last_week=week_starts[-1],
        weeks_total=len(week_starts),
    )
    return PendingSync(
        run=run, week_starts=week_starts, options=options, client=options.client or PostHogClient()
    )
