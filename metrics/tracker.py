"""The tracker service: the one place that changes weekly numbers.

Every door (management command, cron endpoint, admin page, crontab job, webhook) calls a
function here. A sync asks PostHog for every week of a range, then writes all changes in
one transaction, or nothing at all when any query failed.
"""

import dataclasses
import datetime as dt
import enum
import logging
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import DatabaseError, IntegrityError, OperationalError, connection, models, transaction
from django.db.models import Count, F, Max, Min, Q, Value
from django.utils import timezone
from django.utils.crypto import salted_hmac

from metrics import auth, schedule, weeks
from metrics.models import SyncRun, WebhookDelivery, WeeklyMetric, WeekVisitor
from metrics.posthog import PostHogClient, PostHogConfig, PostHogError, WeeklyCounts

logger = logging.getLogger(__name__)

# progress(weeks_done, weeks_total, phase)
ProgressCallback = Callable[[int, int, str], None]


class SyncError(Exception):
    """A sync did not complete; `run` (if any) is the recorded SyncRun."""

    def __init__(self, message: str, *, run: SyncRun | None = None) -> None:
        super().__init__(message)
        self.run = run


class InvalidSyncRequest(ValueError):
    """The weeks asked for cannot be synced (a date in the future, too far back, ...)."""


class SyncInProgress(SyncError):
    """Another sync holds the lock; `run` is that sync."""


class SyncFailed(SyncError):
    """The run was recorded as failed and no stored number changed."""


class WipeoutRefused(SyncFailed):
    """PostHog's answer would zero weeks that hold visitors; refused unless forced."""


class LockLost(SyncFailed):
    """The run was presumed dead and its lock released before it could write; it wrote nothing."""


# Older than any PostHog data; a `since` before it is a typo that would cost the team's
# query budget thousands of queries.
EARLIEST_SINCE = dt.date(2000, 1, 1)


@dataclasses.dataclass(frozen=True)
class WeekChange:
    week_start: dt.date
    visitors_before: int | None  # None: the week was created by this run
    visitors_after: int
    pageviews_before: int | None
    pageviews_after: int

    @property
    def created(self) -> bool:
        return self.visitors_before is None

    def as_json(self) -> dict:
        return {
            "week": self.week_start.isoformat(),
            "created": self.created,
            "visitors": [self.visitors_before, self.visitors_after],
            "pageviews": [self.pageviews_before, self.pageviews_after],
        }


@dataclasses.dataclass(frozen=True)
class SyncStatus:
    posthog_configured: bool
    posthog_problems: list[str]
    missing_settings: list[str]
    running: SyncRun | None
    last_run: SyncRun | None
    last_success: SyncRun | None
    success_count: int
    failure_count: int
    weeks_stored: int
    newest_week: dt.date | None
    oldest_week: dt.date | None
    stale: bool  # no successful sync within twice the schedule interval
    stale_after: dt.timedelta
    cron_secret_configured: bool = False
    webhook_secret_configured: bool = False


class PageviewStatus(enum.StrEnum):
    COUNTED = "counted"
    DUPLICATE = "duplicate"  # this event was counted before: nothing changed
    IGNORED = "ignored"  # not VISITORSYNC_EVENT
    TOO_OLD = "too_old"  # older than the dedup window: left to the scheduled sync


@dataclasses.dataclass(frozen=True)
class PageviewResult:
    status: PageviewStatus
    week_start: dt.date | None = None
    new_visitor: bool = False
    detail: str = ""

    def as_json(self) -> dict:
        body: dict = {"status": str(self.status)}
        if self.week_start is not None:
            body["week"] = self.week_start.isoformat()
        if self.status is PageviewStatus.COUNTED:
            body["new_visitor"] = self.new_visitor
        if self.detail:
            body["detail"] = self.detail
        return body


class RecordingUnavailable(Exception):
    """The database could not record the pageview; nothing was written, a retry may work."""


# Attempts (and the pause before each retry) for a pageview whose transaction hit a
# transient database error: a PostgreSQL deadlock or serialization failure, or SQLite
# still locked after its busy timeout. PostHog waits 10 s for an answer, so keep it short.
RECORD_RETRY_PAUSES = (0.05, 0.25)
VISITOR_HASH_PURPOSE = "visitorsync.webhook.week-visitor"


# --- Public service functions --------------------------------------------------------------
def sync_all_metrics(
    *,
    trigger: str,
    since: dt.date | None = None,
    dry_run: bool = False,
    force: bool = False,
    progress: ProgressCallback | None = None,
    started_by: str = "",
    client: PostHogClient | None = None,
) -> SyncRun:
    """Sync every week from the earliest stored week (or `since`) through the current week.

    Until PostHog has confirmed some week, starts at least `VISITORSYNC_BACKFILL_WEEKS`
    weeks back. Missing weeks are created so the table has no gaps. Returns the finished
    SyncRun; raises SyncInProgress or SyncFailed (recorded, nothing changed).
    """
    pending = start_sync_all_metrics(
        trigger=trigger, since=since, dry_run=dry_run, force=force, started_by=started_by, client=client
    )
    return pending.execute(progress=progress)


def start_sync_all_metrics(
    *,
    trigger: str,
    since: dt.date | None = None,
    dry_run: bool = False,
    force: bool = False,
    started_by: str = "",
    client: PostHogClient | None = None,
) -> "PendingSync":
    """Take the lock for a sync like `sync_all_metrics` and return it without asking PostHog.

    Raises SyncInProgress at once when another sync holds the lock, so a caller (the admin
    page) can answer immediately and run `PendingSync.execute()` elsewhere, e.g. in a thread.
    """
    last = weeks.current_week_start()
    if since is not None:
        if since < EARLIEST_SINCE:
            raise InvalidSyncRequest(
                f"since={since} is before {EARLIEST_SINCE}; PostHog holds no data that old. "
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
    return _start(
        week_starts=list(weeks.week_range(first, last)),
        trigger=trigger,
        dry_run=dry_run,
        force=force,
        started_by=started_by,
        client=client,
    )


def sync_weeks(
    *,
    week_starts: Iterable[dt.date],
    trigger: str,
    dry_run: bool = False,
    force: bool = False,
    progress: ProgressCallback | None = None,
    started_by: str = "",
    client: PostHogClient | None = None,
) -> SyncRun:
    """Sync just these weeks (each must be a week start), creating any that are missing."""
    selected = sorted(set(week_starts))
    if not selected:
        raise InvalidSyncRequest("no weeks to sync")
    for week in selected:
        if not weeks.is_week_start(week):
            raise InvalidSyncRequest(f"{week} is not a week start")
    pending = _start(
        week_starts=selected,
        trigger=trigger,
        dry_run=dry_run,
        force=force,
        started_by=started_by,
        client=client,
    )
    return pending.execute(progress=progress)


def update_metric_visitors(moment: dt.datetime, *, trigger: str, **options) -> SyncRun:
    """Re-sync the one week that contains the aware datetime `moment`."""
    return sync_weeks(week_starts=[weeks.week_start_for(moment)], trigger=trigger, **options)


def sync_metric_by_id(metric_id: int, *, trigger: str, **options) -> SyncRun:
    """Re-sync one stored week; raises WeeklyMetric.DoesNotExist for an unknown id."""
    week = WeeklyMetric.objects.values_list("week_start", flat=True).get(pk=metric_id)
    return sync_weeks(week_starts=[week], trigger=trigger, **options)


def get_sync_status() -> SyncStatus:
    """Configuration state and sync history, in a fixed number of queries."""
    config = PostHogConfig.from_settings()
    problems = config.problems()
    real_runs = SyncRun.objects.filter(dry_run=False)
    counts = real_runs.aggregate(
        succeeded=Count("id", filter=Q(status=SyncRun.Status.SUCCEEDED)),
        failed=Count("id", filter=Q(status=SyncRun.Status.FAILED)),
    )
    stored = WeeklyMetric.objects.aggregate(
        count=Count("id"), newest=Max("week_start"), oldest=Min("week_start")
    )
    last_success = real_runs.filter(status=SyncRun.Status.SUCCEEDED).first()
    stale_after = schedule.stale_after()
    return SyncStatus(
        posthog_configured=not problems,
        posthog_problems=problems,
        missing_settings=config.missing_settings,
        running=SyncRun.objects.filter(status=SyncRun.Status.RUNNING).first(),
        last_run=SyncRun.objects.exclude(status=SyncRun.Status.RUNNING).first(),
        last_success=last_success,
        success_count=counts["succeeded"],
        failure_count=counts["failed"],
        weeks_stored=stored["count"],
        newest_week=stored["newest"],
        oldest_week=stored["oldest"],
        stale=last_success is None or timezone.now() - last_success.finished_at > stale_after,
        stale_after=stale_after,
        cron_secret_configured=bool(auth.parse_secrets(settings.CRON_SECRET)),
        # The webhook's settings may be absent from an older settings module.
        webhook_secret_configured=bool(
            auth.parse_secrets(settings.POSTHOG_WEBHOOK_SECRET) or settings.POSTHOG_WEBHOOK_SIGNING_SECRET
        ),
    )


def run_changes(run: SyncRun) -> list[WeekChange]:
    """The per-week changes a run recorded, largest visitor change first."""
    changes = [
        WeekChange(
            week_start=dt.date.fromisoformat(item["week"]),
            visitors_before=item["visitors"][0],
            visitors_after=item["visitors"][1],
            pageviews_before=item["pageviews"][0],
            pageviews_after=item["pageviews"][1],
        )
        for item in run.changes
    ]
    return sorted(changes, key=lambda c: -abs(c.visitors_after - (c.visitors_before or 0)))


def record_pageview(
    *, key: str, event: str, timestamp: dt.datetime, visitor_id: str | None
) -> PageviewResult:
    """Count one webhook event in the week of its `timestamp`, exactly once.

    `key` identifies the event (PostHog's event uuid): a second delivery of the same key is
    a DUPLICATE and changes nothing. A visitor adds to a week's visitors only the first
    time that week. Everything is one transaction, safe under concurrent deliveries.
    Raises RecordingUnavailable when the database keeps failing.
    """
    if event != settings.VISITORSYNC_EVENT:
        return PageviewResult(
            PageviewStatus.IGNORED,
            detail=f"Only {settings.VISITORSYNC_EVENT!r} events are counted (VISITORSYNC_EVENT).",
        )
    oldest = oldest_tracked_week()
    if timestamp < weeks.week_bounds(oldest)[0]:
        return PageviewResult(
            PageviewStatus.TOO_OLD,
            week_start=weeks.week_start_for(timestamp),
            detail=(
                f"Weeks before {oldest} are only counted by the scheduled sync "
                "(VISITORSYNC_WEBHOOK_RETENTION_WEEKS)."
            ),
        )
    if not visitor_id:
        raise ValueError("a counted event needs a visitor id")
    week = weeks.week_start_for(timestamp)
    visitor_hash = salted_hmac(VISITOR_HASH_PURPOSE, f"{week}:{visitor_id}", algorithm="sha256").hexdigest()
    for pause in (*RECORD_RETRY_PAUSES, None):
        try:
            return _count_pageview(key=key, week=week, visitor_hash=visitor_hash)
        except OperationalError as err:
            # Inside a caller's transaction a retry cannot help: the transaction is broken.
            if pause is None or connection.in_atomic_block:
                logger.error("webhook key=%s week=%s not recorded: %s", key, week, err)
                raise RecordingUnavailable(f"The database is unavailable ({err}).") from err
            logger.warning("webhook key=%s week=%s retrying after: %s", key, week, err)
            connection.close_if_unusable_or_obsolete()
            time.sleep(pause)
        except DatabaseError as err:
            logger.exception("webhook key=%s week=%s not recorded", key, week)
            raise RecordingUnavailable(f"The database failed ({err}).") from err
    raise AssertionError("unreachable")


def oldest_tracked_week(*, now: dt.datetime | None = None) -> dt.date:
    """First week whose webhook events are still deduplicated (older ones are pruned)."""
    current = weeks.current_week_start(now=now)
    return current - weeks.ONE_WEEK * (settings.VISITORSYNC_WEBHOOK_RETENTION_WEEKS - 1)


def _count_pageview(*, key: str, week: dt.date, visitor_hash: str) -> PageviewResult:
    now = timezone.now()
    if connection.vendor == "postgresql":
        counted, new_visitor = _count_pageview_in_one_statement(
            key=key, week=week, visitor_hash=visitor_hash, now=now
        )
        if not counted:
            return PageviewResult(PageviewStatus.DUPLICATE, week_start=week)
        return PageviewResult(PageviewStatus.COUNTED, week_start=week, new_visitor=new_visitor)
    with transaction.atomic():
        # The unique key is the idempotency check: a concurrent or earlier delivery of the
        # same event inserts nothing here, and then nothing else may change.
        if not _insert_if_new(WebhookDelivery, key=key, week_start=week, received_at=now):
            return PageviewResult(PageviewStatus.DUPLICATE, week_start=week)
        new_visitor = _insert_if_new(WeekVisitor, week_start=week, visitor_hash=visitor_hash)
        # Increments in SQL (never read-modify-write), so concurrent deliveries and a
        # running sync (which keeps what was added after its snapshot) all add up.
        increments = {"pageviews": F("pageviews") + 1, "updated_at": now}
        if new_visitor:
            increments["visitors"] = F("visitors") + 1
        week_rows = WeeklyMetric.objects.filter(week_start=week)
        if not week_rows.update(**increments):
            # First event of a new week; a concurrent delivery or sync may create it too.
            WeeklyMetric.objects.bulk_create([WeeklyMetric(week_start=week)], ignore_conflicts=True)
            week_rows.update(**increments)
    return PageviewResult(PageviewStatus.COUNTED, week_start=week, new_visitor=new_visitor)


def _count_pageview_in_one_statement(
    *, key: str, week: dt.date, visitor_hash: str, now: dt.datetime
) -> tuple[bool, bool]:
    """PostgreSQL: the same three steps as the portable path, as one atomic statement.

    One round trip instead of five (BEGIN, two inserts, the increment, COMMIT), which is
    most of a delivery's time. Each step runs only if the one before inserted a row, via
    the data-modifying CTEs' RETURNING; a concurrent delivery of the same key waits for
    the first to commit and then inserts nothing. Returns (counted, new_visitor).
    """
    quote = connection.ops.quote_name
    delivery = quote(WebhookDelivery._meta.db_table)
    visitor = quote(WeekVisitor._meta.db_table)
    metric = quote(WeeklyMetric._meta.db_table)
    # Only table names go into the SQL text; every value is a parameter.
    sql = f"""
        WITH delivery AS (
            INSERT INTO {delivery} (key, week_start, received_at) VALUES (%s, %s, %s)
            ON CONFLICT DO NOTHING RETURNING 1
        ), visitor AS (
            INSERT INTO {visitor} (week_start, visitor_hash)
            SELECT %s, %s WHERE EXISTS (SELECT 1 FROM delivery)
            ON CONFLICT DO NOTHING RETURNING 1
        ), week AS (
            INSERT INTO {metric} (week_start, visitors, pageviews, created_at, updated_at)
            SELECT %s, (SELECT count(*) FROM visitor), 1, %s, %s WHERE EXISTS (SELECT 1 FROM delivery)
            ON CONFLICT (week_start) DO UPDATE SET
                visitors = {metric}.visitors + EXCLUDED.visitors,
                pageviews = {metric}.pageviews + 1,
                updated_at = EXCLUDED.updated_at
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM delivery), (SELECT count(*) FROM visitor), (SELECT count(*) FROM week)
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [key, week, now, week, visitor_hash, week, now, now])
        inserted, new_visitor, _weeks_written = cursor.fetchone()
    return bool(inserted), bool(new_visitor)


def _insert_if_new(model: type[models.Model], **values) -> bool:
    """Insert a row unless it conflicts with a unique constraint; True if it was inserted.

    One `INSERT ... ON CONFLICT DO NOTHING RETURNING` statement (PostgreSQL, and SQLite
    3.35+): unlike create() in a savepoint it needs no SAVEPOINT/RELEASE round trips and
    raises no IntegrityError, which roughly halves the statements of a delivery. Under
    concurrency PostgreSQL makes the second inserter wait for the first to commit.
    """
    fields = [model._meta.get_field(name) for name in values]
    quote = connection.ops.quote_name
    # Only model metadata goes into the SQL text; every value is a parameter.
    sql = "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING RETURNING 1".format(  # noqa: S608
        quote(model._meta.db_table),
        ", ".join(quote(field.column) for field in fields),
        ", ".join(["%s"] * len(fields)),
    )
    params = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields, values.values(), strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


# --- The sync itself -------------------------------------------------------------------------
@dataclasses.dataclass
class PendingSync:
    """A sync that holds the lock (`run` is its running SyncRun) but has not asked PostHog.

    Call `execute()` exactly once, in any thread; until then the lock stays held (and is
    freed as abandoned after VISITORSYNC_SYNC_STALE_AFTER seconds if it never is).
    """

    run: SyncRun
    week_starts: list[dt.date]
    force: bool
    client: PostHogClient

    def execute(self, *, progress: ProgressCallback | None = None) -> SyncRun:
        """Run the sync; returns the finished SyncRun or raises SyncFailed (recorded)."""
        return _execute(self, progress=progress)


def _start(
    *,
    week_starts: list[dt.date],
    trigger: str,
    dry_run: bool,
    force: bool,
    started_by: str,
    client: PostHogClient | None,
) -> PendingSync:
    run = _claim_lock(
        trigger=trigger,
        dry_run=dry_run,
        forced=force,
        started_by=started_by,
        first_week=week_starts[0],
        last_week=week_starts[-1],
        weeks_total=len(week_starts),
    )
    return PendingSync(run=run, week_starts=week_starts, force=force, client=client or PostHogClient())


def _execute(pending: PendingSync, *, progress: ProgressCallback | None) -> SyncRun:
    run, week_starts, client, force = pending.run, pending.week_starts, pending.client, pending.force
    trigger, dry_run = run.trigger, run.dry_run
    started = time.monotonic()
    report = _Progress(run, progress)
    try:
        stored, answer = _ask_posthog(client, week_starts=week_starts, report=report)
        run.queries = client.queries
        report(len(week_starts), "Writing" if not dry_run else "Comparing")
        with transaction.atomic():
            # A run presumed dead (and replaced) must not write as well: both would add
            # their PostHog numbers on top of each other's.
            if (
                not SyncRun.objects.select_for_update()
                .filter(pk=run.pk, status=SyncRun.Status.RUNNING)
                .exists()
            ):
                raise LockLost(
                    f"Sync #{run.pk} made no progress for {settings.VISITORSYNC_SYNC_STALE_AFTER} s, was "
                    "presumed dead and its lock released, so it wrote nothing. If syncs really take "
                    "this long, raise VISITORSYNC_SYNC_STALE_AFTER.",
                    run=run,
                )
            changes, unchanged = _apply(
                week_starts=week_starts, stored=stored, answer=answer, dry_run=dry_run, force=force
            )
            run.weeks_checked = len(week_starts)
            run.weeks_created = sum(1 for c in changes if c.created)
            run.weeks_updated = len(changes) - run.weeks_created
            run.weeks_unchanged = unchanged
            run.changes = [c.as_json() for c in changes]
            _finish(run, status=SyncRun.Status.SUCCEEDED)
    except LockLost as err:
        logger.error("sync run=%s trigger=%s: %s", run.pk, trigger, err)
        raise
    except PostHogError as err:
        run.queries = client.queries
        _finish(run, status=SyncRun.Status.FAILED, error=str(err))
        logger.error("sync run=%s trigger=%s failed after %d queries: %s", run.pk, trigger, run.queries, err)
        raise SyncFailed(str(err), run=run) from err
    except WipeoutRefused as err:
        _finish(run, status=SyncRun.Status.FAILED, error=str(err))
        logger.error("sync run=%s trigger=%s refused: %s", run.pk, trigger, err)
        err.run = run
        raise
    except BaseException as err:
        _finish(run, status=SyncRun.Status.FAILED, error=f"Internal error: {err!r}")
        logger.exception("sync run=%s trigger=%s crashed", run.pk, trigger)
        raise
    logger.info(
        "sync run=%s trigger=%s%s weeks=%d created=%d updated=%d unchanged=%d queries=%d duration=%.2fs",
        run.pk,
        trigger,
        " (dry run)" if dry_run else "",
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
) -> tuple[dict[dt.date, dict], WeeklyCounts]:
    """PostHog's numbers for the weeks, and the stored rows as they were before each query.

    Each chunk's rows are read right before that chunk's query: what webhooks add after
    that is kept on top of PostHog's answer (see _apply). Snapshotting per chunk keeps
    that window to one query, so an event PostHog already counted is rarely added twice.
    Chunks with none of the requested weeks are not queried.
    """
    stored: dict[dt.date, dict] = {}
    counts = {}
    queries_before = client.queries
    done = 0
    report(0, "Asking PostHog")
    for start, end in client.chunks(week_starts[0], week_starts[-1]):
        chunk = [week for week in week_starts if start <= week <= end]
        if not chunk:
            continue
        stored |= _snapshot(chunk)
        counts |= client.weekly_counts(first_week=start, last_week=end).counts
        done += len(chunk)
        report(done, "Asking PostHog")
    return stored, WeeklyCounts(week_starts[0], week_starts[-1], counts, client.queries - queries_before)


def _snapshot(week_starts: list[dt.date]) -> dict[dt.date, dict]:
    return {
        row["week_start"]: row
        for row in WeeklyMetric.objects.filter(
            week_start__gte=week_starts[0], week_start__lte=week_starts[-1]
        ).values("id", "week_start", "visitors", "pageviews", "posthog_visitors", "posthog_pageviews")
    }


def _apply(
    *,
    week_starts: list[dt.date],
    stored: dict[dt.date, dict],
    answer: WeeklyCounts,
    dry_run: bool,
    force: bool,
) -> tuple[list[WeekChange], int]:
    """Compare PostHog's answer with the snapshot taken before the query; write the differences.

    Returns the changes and the number of unchanged weeks. Visitors and pageviews that
    webhooks add while the sync runs are kept: each row is set to PostHog's number plus
    whatever it gained since the snapshot, in one UPDATE, so no increment is lost.
    """
    changes: list[WeekChange] = []
    unchanged = 0
    for week in week_starts:
        count = answer.for_week(week)
        row = stored.get(week)
        if row is None:
            changes.append(WeekChange(week, None, count.visitors, None, count.pageviews))
        elif (row["visitors"], row["pageviews"], row["posthog_visitors"], row["posthog_pageviews"]) == (
            count.visitors,
            count.pageviews,
            count.visitors,
            count.pageviews,
        ):
            unchanged += 1
        else:
            changes.append(
                WeekChange(week, row["visitors"], count.visitors, row["pageviews"], count.pageviews)
            )

    zeroed = [c for c in changes if c.visitors_before and c.visitors_after == 0]
    if zeroed and not force:
        listed = ", ".join(f"{c.week_start} ({c.visitors_before} visitors)" for c in zeroed[:5])
        more = f" and {len(zeroed) - 5} more" if len(zeroed) > 5 else ""
        raise WipeoutRefused(
            f"Refusing to set {len(zeroed)} week(s) that hold visitors to zero: {listed}{more}. "
            "PostHog found no events for them, which usually means POSTHOG_PROJECT_ID or "
            f"VISITORSYNC_EVENT ({settings.VISITORSYNC_EVENT!r}) is wrong. If the data "
            "really is gone, sync again with --force (or force=1). Nothing was changed."
        )
    if dry_run:
        return changes, unchanged

    now = timezone.now()
    with transaction.atomic():
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
        # A webhook may have created one of those weeks since the snapshot. Its row won
        # (the conflict was ignored) and is the one never synced: update it from zero.
        raced = dict(
            WeeklyMetric.objects.filter(
                week_start__in=[c.week_start for c in created], posthog_visitors__isnull=True
            ).values_list("week_start", "id")
        )
        # Rows that existed at the snapshot, plus raced ones; rows inserted above are done.
        row_ids = {week: row["id"] for week, row in stored.items()} | raced
        updates = [
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
        ]
        WeeklyMetric.objects.bulk_update(
            updates,
            ["visitors", "pageviews", "posthog_visitors", "posthog_pageviews", "synced_at", "updated_at"],
        )
        # PostHog confirmed the unchanged weeks too; one statement for all of them.
        changed_weeks = {c.week_start for c in changes}
        WeeklyMetric.objects.filter(week_start__in=[w for w in week_starts if w not in changed_weeks]).update(
            synced_at=now
        )
        _after_sync_write(week_starts=week_starts)
    return changes, unchanged


def _after_sync_write(*, week_starts: list[dt.date]) -> None:
    """Housekeeping that runs inside a successful sync's transaction.

    Prunes the webhook's dedup rows (delivery keys, visitor hashes) of weeks older than
    the retention window, so their storage stays bounded; the webhook answers `too_old`
    for those weeks, so a pruned key can never let an event be counted twice.
    """
    cutoff = oldest_tracked_week()
    deliveries, _ = WebhookDelivery.objects.filter(week_start__lt=cutoff).delete()
    visitors, _ = WeekVisitor.objects.filter(week_start__lt=cutoff).delete()
    if deliveries or visitors:
        logger.info(
            "pruned webhook rows of weeks before %s: %d delivery keys, %d visitor hashes",
            cutoff,
            deliveries,
            visitors,
        )


# --- Lock and run bookkeeping --------------------------------------------------------------
def _claim_lock(**fields) -> SyncRun:
    """Insert the running SyncRun, which is the lock; raise SyncInProgress if it is held."""
    _expire_stale_runs()
    try:
        with transaction.atomic():
            return SyncRun.objects.create(status=SyncRun.Status.RUNNING, **fields)
    except IntegrityError:
        holder = SyncRun.objects.filter(status=SyncRun.Status.RUNNING).first()
        if holder is None:  # released between our insert and this read: tell the caller
            raise SyncInProgress("Another sync just finished; try again.") from None
        raise SyncInProgress(
            f"Sync #{holder.pk} ({holder.get_trigger_display()}"
            f"{', by ' + holder.started_by if holder.started_by else ''}) has been running "
            f"since {timezone.localtime(holder.started_at):%Y-%m-%d %H:%M:%S %Z}; wait for it "
            "to finish.",
            run=holder,
        ) from None


def _expire_stale_runs() -> None:
    cutoff = timezone.now() - dt.timedelta(seconds=settings.VISITORSYNC_SYNC_STALE_AFTER)
    stale = SyncRun.objects.filter(status=SyncRun.Status.RUNNING, heartbeat_at__lt=cutoff)
    for run in stale:
        logger.warning(
            "sync run=%s abandoned (no progress since %s); releasing its lock", run.pk, run.heartbeat_at
        )
    stale.update(
        status=SyncRun.Status.FAILED,
        finished_at=timezone.now(),
        error=(
            f"Abandoned: no progress for {settings.VISITORSYNC_SYNC_STALE_AFTER} seconds "
            "(VISITORSYNC_SYNC_STALE_AFTER); its process probably stopped. No number was "
            "changed by it."
        ),
    )


_FINISH_FIELDS = (
    "status", "error", "finished_at", "phase", "queries", "weeks_done", "weeks_checked",
    "weeks_created", "weeks_updated", "weeks_unchanged", "changes",
)  # fmt: skip


def _finish(run: SyncRun, *, status: str, error: str = "") -> None:
    """Record the outcome, unless the run was already declared abandoned (that record stays)."""
    run.status = status
    run.error = error
    run.finished_at = timezone.now()
    run.phase = "Done" if status == SyncRun.Status.SUCCEEDED else "Failed"
    SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
        **{field: getattr(run, field) for field in _FINISH_FIELDS}
    )


class _Progress:
    """Records progress on the run row (for pages that poll it) and tells the caller."""

    def __init__(self, run: SyncRun, callback: ProgressCallback | None) -> None:
        self.run = run
        self.callback = callback

    def __call__(self, done: int, phase: str) -> None:
        now = timezone.now()
        self.run.weeks_done, self.run.phase, self.run.heartbeat_at = done, phase, now
        SyncRun.objects.filter(pk=self.run.pk).update(weeks_done=done, phase=phase, heartbeat_at=now)
        if self.callback:
            self.callback(done, self.run.weeks_total, phase)
