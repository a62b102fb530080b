"""The sync: ask PostHog for a range of weeks, then write every change in one transaction.

A sync takes the lock (`lock.claim`), asks PostHog one range at a time (this module decides
the ranges; the client answers one per call), compares the answer with the rows as they
were just before each query, refuses a wipe-out, and writes. When any query fails, nothing
is written and the run is recorded as failed.
"""

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Min, Value
from django.utils import timezone

from metrics import weeks
from metrics.models import SyncRun, WeeklyMetric
from metrics.posthog import PostHogClient, PostHogError, PostHogNotConfigured, WeekCount
from metrics.tracker import lock
from metrics.tracker.changes import WeekChange
from metrics.tracker.errors import (
    InvalidSyncRequest,
    LockLost,
    SyncFailed,
    SyncNotConfigured,
    UnknownWeek,
    WipeoutRefused,
)
from metrics.tracker.pageviews import prune_webhook_rows

logger = logging.getLogger(__name__)

# progress(weeks_done, weeks_total, phase)
ProgressCallback = Callable[[int, int, str], None]
# The stored numbers of one week, as read before its query (WeeklyMetric.values()).
Snapshot = dict[dt.date, dict]


@dataclasses.dataclass(frozen=True, kw_only=True)
class SyncOptions:
    """How a sync runs, whichever door starts it.

    `since` applies to a full sync only (sync from the week of that date). `force` writes
    even when PostHog's answer would set weeks holding visitors to zero. `client` is for
    tests and benchmarks; by default a client is built from the settings.
    """

    trigger: str
    since: dt.date | None = None
    dry_run: bool = False
    force: bool = False
    started_by: str = ""
    client: PostHogClient | None = None


@dataclasses.dataclass
class PendingSync:
    """A sync that holds the lock (`run` is its running SyncRun) but has not asked PostHog.

    Call `execute()` exactly once, in any thread; until then the lock stays held (and is
    freed as abandoned after VISITORSYNC_SYNC_ABANDON_AFTER seconds if it never is).
    """

    run: SyncRun
    week_starts: list[dt.date]
    options: SyncOptions
    client: PostHogClient

    def execute(self, *, progress: ProgressCallback | None = None) -> SyncRun:
        """Run the sync; returns the finished SyncRun or raises SyncFailed (recorded)."""
        return _execute(self, progress=progress)


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
    if options.since is not None:
        raise InvalidSyncRequest("since applies to a full sync, not to a list of weeks.")
    selected = sorted(set(week_starts))
    if not selected:
        raise InvalidSyncRequest("no weeks to sync")
    for week in selected:
        if not weeks.is_week_start(week):
            raise InvalidSyncRequest(f"{week} is not a week start")
    return _start(week_starts=selected, options=options).execute(progress=progress)


def sync_metric_by_id(
    options: SyncOptions, *, metric_id: int, progress: ProgressCallback | None = None
) -> SyncRun:
    """Re-sync one stored week; raises UnknownWeek for an id no stored week has."""
    week = WeeklyMetric.objects.filter(pk=metric_id).values_list("week_start", flat=True).first()
    if week is None:
        raise UnknownWeek(f"No stored week has id {metric_id}.")
    return sync_weeks(options, week_starts=[week], progress=progress)


def chunk_ranges(first_week: dt.date, last_week: dt.date, *, size: int) -> list[tuple[dt.date, dt.date]]:
    """Split [first_week, last_week] into ranges of at most `size` weeks: one query each."""
    ranges = []
    start = first_week
    while start <= last_week:
        end = min(start + weeks.ONE_WEEK * (size - 1), last_week)
        ranges.append((start, end))
        start = end + weeks.ONE_WEEK
    return ranges


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
        stored = WeeklyMetric.objects.aggregate(first=Min("week_start"), synced=Max("synced_at"))
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


# --- Running -----------------------------------------------------------------------------------
def _execute(pending: PendingSync, *, progress: ProgressCallback | None) -> SyncRun:
    run, week_starts, client = pending.run, pending.week_starts, pending.client
    started = time.monotonic()
    queries_before = client.queries
    report = _Progress(run, progress)
    try:
        stored, answer = _ask_posthog(client, week_starts=week_starts, report=report)
        run.queries = client.queries - queries_before
        report(len(week_starts), "Comparing" if run.dry_run else "Writing")
        with transaction.atomic():
            if not lock.still_held(run):
                raise LockLost(
                    f"Sync #{run.pk} made no progress for {settings.VISITORSYNC_SYNC_ABANDON_AFTER} s, "
                    "was presumed dead and its lock released, so it wrote nothing. If syncs really "
                    "take this long, raise VISITORSYNC_SYNC_ABANDON_AFTER.",
                    run=run,
                )
            changes = _compare(week_starts=week_starts, stored=stored, answer=answer)
            if not pending.options.force:
                _refuse_wipeout(changes, run=run)
            if not run.dry_run:
                _write(week_starts=week_starts, stored=stored, changes=changes)
                prune_webhook_rows()
            _record_result(run, week_starts=week_starts, changes=changes)
            lock.finish(run, status=SyncRun.Status.SUCCEEDED)
    except LockLost as err:
        logger.error("sync run=%s trigger=%s: %s", run.pk, run.trigger, err)
        raise
    except WipeoutRefused as err:
        lock.finish(run, status=SyncRun.Status.FAILED, error=str(err))
        logger.error("sync run=%s trigger=%s refused: %s", run.pk, run.trigger, err)
        raise
    except PostHogError as err:
        run.queries = client.queries - queries_before
        lock.finish(run, status=SyncRun.Status.FAILED, error=str(err))
        logger.error(
            "sync run=%s trigger=%s failed after %d queries: %s", run.pk, run.trigger, run.queries, err
        )
        failure = SyncNotConfigured if isinstance(err, PostHogNotConfigured) else SyncFailed
        raise failure(str(err), run=run) from err
    except Exception as err:
        lock.finish(run, status=SyncRun.Status.FAILED, error=f"Internal error: {err!r}")
        logger.exception("sync run=%s trigger=%s crashed", run.pk, run.trigger)
        raise
    except BaseException as err:
        # Ctrl-C or a stopping process: not a bug. Release the lock now rather than after the
        # abandon limit; the write transaction (if it had begun) was rolled back.
        lock.finish(
            run,
            status=SyncRun.Status.FAILED,
            error=f"Interrupted ({type(err).__name__}) before it finished; no number was changed.",
        )
        logger.warning("sync run=%s trigger=%s interrupted (%s)", run.pk, run.trigger, type(err).__name__)
        raise
    logger.info(
        "sync run=%s trigger=%s%s weeks=%d created=%d updated=%d unchanged=%d queries=%d duration=%.2fs",
        run.pk,
        run.trigger,
        " (dry run)" if run.dry_run else "",
        run.weeks_checked,
        run.weeks_created,
        run.weeks_updated,
        run.weeks_unchanged,
        run.queries,
        time.monotonic() - started,
    )
    return run


def _ask_posthog(
    client: PostHogClient, *, week_starts: list[dt.date], report: "_Progress"
) -> tuple[Snapshot, dict[dt.date, WeekCount]]:
    """PostHog's numbers for the weeks, and the stored rows as they were before each query.

    Each range's rows are read right before that range's query: what webhooks add after
    that is kept on top of PostHog's answer (see _write). Snapshotting per range keeps that
    window to one query, so an event PostHog already counted is rarely added twice. Ranges
    with none of the requested weeks are not queried.
    """
    stored: Snapshot = {}
    counts: dict[dt.date, WeekCount] = {}
    done = 0
    report(0, "Asking PostHog")
    for start, end in chunk_ranges(week_starts[0], week_starts[-1], size=settings.VISITORSYNC_CHUNK_WEEKS):
        chunk = [week for week in week_starts if start <= week <= end]
        if not chunk:
            continue
        stored |= _snapshot(chunk)
        counts |= client.weekly_counts(first_week=start, last_week=end).counts
        done += len(chunk)
        report(done, "Asking PostHog")
    return stored, counts


def _snapshot(week_starts: list[dt.date]) -> Snapshot:
    return {
        row["week_start"]: row
        for row in WeeklyMetric.objects.filter(
            week_start__gte=week_starts[0], week_start__lte=week_starts[-1]
        ).values("id", "week_start", "visitors", "pageviews", "posthog_visitors", "posthog_pageviews")
    }


def _compare(
    *, week_starts: list[dt.date], stored: Snapshot, answer: dict[dt.date, WeekCount]
) -> list[WeekChange]:
    """The weeks whose numbers PostHog's answer changes; a week absent from the answer is zero."""
    changes = []
    for week in week_starts:
        count = answer.get(week, WeekCount(week, 0, 0))
        row = stored.get(week)
        if row is None:
            changes.append(WeekChange(week, None, count.visitors, None, count.pageviews))
        elif (row["visitors"], row["pageviews"], row["posthog_visitors"], row["posthog_pageviews"]) != (
            count.visitors,
            count.pageviews,
            count.visitors,
            count.pageviews,
        ):
            changes.append(
                WeekChange(week, row["visitors"], count.visitors, row["pageviews"], count.pageviews)
            )
    return changes


def _refuse_wipeout(changes: list[WeekChange], *, run: SyncRun) -> None:
    """Raise WipeoutRefused if the changes would set weeks that hold visitors to zero."""
    zeroed = [c for c in changes if c.visitors_before and c.visitors_after == 0]
    if not zeroed:
        return
    listed = ", ".join(f"{c.week_start} ({c.visitors_before} visitors)" for c in zeroed[:5])
    more = f" and {len(zeroed) - 5} more" if len(zeroed) > 5 else ""
    raise WipeoutRefused(
        f"Refusing to set {len(zeroed)} week(s) that hold visitors to zero: {listed}{more}. "
        "PostHog found no events for them, which usually means POSTHOG_PROJECT_ID or "
        f"VISITORSYNC_EVENT ({settings.VISITORSYNC_EVENT!r}) is wrong. If the data "
        "really is gone, sync again with --force (or force=1). Nothing was changed.",
        run=run,
    )


def _write(*, week_starts: list[dt.date], stored: Snapshot, changes: list[WeekChange]) -> None:
    """Write the changes; every week of the range is marked confirmed by PostHog.

    Visitors and pageviews that webhooks added since the snapshot are kept: each row is set
    to PostHog's number plus whatever it gained since, in one UPDATE, so no increment is lost.
    """
    now = timezone.now()
    created = [c for c in changes if c.created]
    WeeklyMetric.objects.bulk_create(
        [
            WeeklyMetric(
                week_start=c.week_start,
                visitors=c.visitors_after,
                pageviews=c.pageviews_after,
                posthog_visitors=c.visitors_after,
                posthog_pageviews=c.pageviews_after,
                synced_at=now,
            )
            for c in created
        ],
        ignore_conflicts=True,
    )
    # A webhook may have created one of those weeks since the snapshot. Its row won (the
    # conflict was ignored) and is the one never synced: update it from zero.
    raced = dict(
        WeeklyMetric.objects.filter(
            week_start__in=[c.week_start for c in created], posthog_visitors__isnull=True
        ).values_list("week_start", "id")
    )
    # Rows that existed at the snapshot, plus raced ones; rows inserted above are done.
    row_ids = {week: row["id"] for week, row in stored.items()} | raced
    WeeklyMetric.objects.bulk_update(
        [
            WeeklyMetric(
                pk=row_ids[change.week_start],
                visitors=Value(change.visitors_after) + F("visitors") - Value(change.visitors_before or 0),
                pageviews=Value(change.pageviews_after)
                + F("pageviews")
                - Value(change.pageviews_before or 0),
                posthog_visitors=change.visitors_after,
                posthog_pageviews=change.pageviews_after,
                synced_at=now,
                updated_at=now,
            )
            for change in changes
            if change.week_start in row_ids
        ],
        ["visitors", "pageviews", "posthog_visitors", "posthog_pageviews", "synced_at", "updated_at"],
    )
    # PostHog confirmed the unchanged weeks too; one statement for all of them.
    changed_weeks = {c.week_start for c in changes}
    WeeklyMetric.objects.filter(week_start__in=[w for w in week_starts if w not in changed_weeks]).update(
        synced_at=now
    )


def _record_result(run: SyncRun, *, week_starts: list[dt.date], changes: list[WeekChange]) -> None:
    run.weeks_checked = len(week_starts)
    run.weeks_created = sum(1 for c in changes if c.created)
    run.weeks_updated = len(changes) - run.weeks_created
    run.weeks_unchanged = len(week_starts) - len(changes)
    run.changes = [c.as_json() for c in changes]


class _Progress:
    """Beats the run's heartbeat with its progress (for pages that poll it) and tells the caller."""

    def __init__(self, run: SyncRun, callback: ProgressCallback | None) -> None:
        self.run = run
        self.callback = callback

    def __call__(self, done: int, phase: str) -> None:
        lock.heartbeat(self.run, done=done, phase=phase)
        if self.callback:
            self.callback(done, self.run.weeks_total, phase)
