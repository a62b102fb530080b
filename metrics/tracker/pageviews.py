"""The webhook's half of the tracker: count one pageview exactly once, prune old dedup rows.

`record_pageview` is called by the webhook view for every delivery; `prune_webhook_rows` by
a successful sync, inside its write transaction.
"""

import dataclasses
import datetime as dt
import enum
import logging
import time

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac

from metrics.core import counting, db_stall, weeks
from metrics.core.db_deadline import Deadline, database_deadline
from metrics.core.errors import InvalidPageview, RecordingUnavailable
from metrics.core.logsafe import loggable
from metrics.models import WebhookDelivery, WeeklyMetric, WeekVisitor

logger = logging.getLogger(__name__)


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


# Attempts (and the pause before each retry) for a pageview whose transaction hit a
# transient database error: a PostgreSQL deadlock or serialization failure, or SQLite
# still locked after its busy timeout. PostHog waits 10 s for an answer, so keep it short.
RECORD_RETRY_PAUSES = (0.05, 0.25)
VISITOR_HASH_PURPOSE = "visitorsync.webhook.week-visitor"
# What a caller may show; the driver's own message (host, address, port) goes to the log only.
UNAVAILABLE = "The database is unavailable right now; nothing was recorded (the log says why)."
FAILED = "The database failed to record the pageview; nothing was recorded (the log says why)."


def record_pageview(
    *, key: str, event: str, timestamp: dt.datetime, visitor_id: str | None, host: str | None = None
) -> PageviewResult:
    """Count one webhook event in the week of its `timestamp`, exactly once.

    `key` identifies the event (PostHog's event uuid): a second delivery of the same key is
    a DUPLICATE and changes nothing. A visitor adds to a week's visitors only the first
    time that week. Everything is one transaction, safe under concurrent deliveries.
    Raises RecordingUnavailable when the database keeps failing, does not answer within
    VISITORSYNC_WEBHOOK_DB_TIMEOUT or is known not to answer (metrics.core.db_stall: then at
    once, without waiting on it), InvalidPageview when an event that counts has no
    `visitor_id`. An event that is not one of VISITORSYNC_EVENT, or comes from a host that
    VISITORSYNC_HOSTS leaves out, is IGNORED (metrics.core.counting decides, as for the sync).
    """
    if not counting.counts_event(event):
        names = ", ".join(repr(name) for name in counting.event_names())
        return PageviewResult(
            PageviewStatus.IGNORED, detail=f"Only {names} events are counted (VISITORSYNC_EVENT)."
        )
    if not counting.counts_host(host):
        hosts = ", ".join(str(pattern) for pattern in counting.host_patterns())
        return PageviewResult(
            PageviewStatus.IGNORED,
            detail=f"Only events from {hosts} (or without a $host) are counted (VISITORSYNC_HOSTS).",
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
        raise InvalidPageview("a counted event needs a visitor id")
    week = weeks.week_start_for(timestamp)
    visitor_hash = salted_hmac(VISITOR_HASH_PURPOSE, f"{week}:{visitor_id}", algorithm="sha256").hexdigest()
    if db_stall.stalled():
        raise RecordingUnavailable(UNAVAILABLE)
    with database_deadline(settings.VISITORSYNC_WEBHOOK_DB_TIMEOUT, on_expiry=_stalled) as deadline:
        return _record(key=key, week=week, visitor_hash=visitor_hash, deadline=deadline)


def _stalled() -> None:
    db_stall.enter("a webhook delivery's wait ran out VISITORSYNC_WEBHOOK_DB_TIMEOUT")


def _record(*, key: str, week: dt.date, visitor_hash: str, deadline: Deadline) -> PageviewResult:
    pauses = iter(RECORD_RETRY_PAUSES)
    while True:
        try:
            _check_connection(deadline)
            return _count_pageview(key=key, week=week, visitor_hash=visitor_hash)
        except OperationalError as err:
            reason = f"no answer within {deadline.seconds:g} s" if deadline.expired else err
            pause = next(pauses, None)
            # A retry helps after a deadlock, a serialization failure or a busy SQLite file,
            # on a connection that still works. Not once the time is up; not on a connection
            # that is gone (a new one may take DATABASE_CONNECT_TIMEOUT again, past PostHog's
            # patience: PostHog retries instead); not inside a caller's transaction (broken).
            if pause is None or deadline.expired or connection.in_atomic_block or not _still_connected():
                logger.error("webhook key=%s week=%s not recorded: %s", loggable(key), week, loggable(reason))
                if db_stall.timed_out(err):
                    db_stall.enter("opening a connection ran out DATABASE_CONNECT_TIMEOUT")
                raise RecordingUnavailable(UNAVAILABLE) from err
            logger.warning("webhook key=%s week=%s retrying after: %s", loggable(key), week, loggable(err))
            time.sleep(pause)
        except DatabaseError as err:
            logger.exception("webhook key=%s week=%s not recorded: %s", loggable(key), week, loggable(err))
            raise RecordingUnavailable(FAILED) from err


def _check_connection(deadline: Deadline) -> None:
    """Django's health check of a reused connection (CONN_HEALTH_CHECKS), under the deadline.

    Run here rather than inside the first query, where Django, finding the connection dead,
    would at once open a new one: after a silent database ran out the deadline, that would
    wait DATABASE_CONNECT_TIMEOUT more.
    """
    if getattr(connection.connection, "closed", False):
        # psycopg knows it is lost (an earlier deadline shut it). Django drops such a
        # connection when a request starts; a caller outside a request would keep it.
        connection.close()
    connection.close_if_health_check_failed()
    if deadline.expired:
        raise OperationalError("the database did not answer the health check")


def _still_connected() -> bool:
    """After a failed statement: does the connection still work? If not, it is closed."""
    if connection.connection is None:
        return False
    if connection.is_usable():
        return True
    connection.close()
    return False


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


def prune_webhook_rows() -> None:
    """Delete the webhook's dedup rows (delivery keys, visitor hashes) of weeks older than the
    retention window, so their storage stays bounded.

    A successful sync calls this inside its write transaction. The webhook answers `too_old`
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
