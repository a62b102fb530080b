"""The webhook's half of the tracker: count one delivery exactly once for every metric it
matches, prune old dedup rows.

`record_pageview` is called by the webhook view for every delivery; `prune_webhook_rows` by
a successful sync, inside its write transaction.
"""

import dataclasses
import datetime as dt
import enum
import logging
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection
from django.utils import timezone

from metrics.core import counting, db_stall, weeks
from metrics.core.db_deadline import Deadline, database_deadline
from metrics.core.definitions import Kind
from metrics.core.errors import InvalidPageview, RecordingUnavailable
from metrics.core.logsafe import loggable
from metrics.models import WebhookDelivery, WeekVisitor
from metrics.tracker import delivery_connection, metric_matches
from metrics.tracker.delivery_write import write_delivery

logger = logging.getLogger(__name__)


class PageviewStatus(enum.StrEnum):
    COUNTED = "counted"
    DUPLICATE = "duplicate"  # this event was counted before: nothing changed
    IGNORED = "ignored"  # no metric counts it
    TOO_OLD = "too_old"  # older than the dedup window: left to the scheduled sync


@dataclasses.dataclass(frozen=True)
class PageviewResult:
    status: PageviewStatus
    week_start: dt.date | None = None
    new_visitor: bool = False
    detail: str = ""
    metrics: tuple[str, ...] = ()  # COUNTED: the user-defined metrics whose number changed

    def as_json(self) -> dict:
        body: dict = {"status": str(self.status)}
        if self.week_start is not None:
            body["week"] = self.week_start.isoformat()
        if self.status is PageviewStatus.COUNTED:
            body["new_visitor"] = self.new_visitor
            if self.metrics:  # absent with the built-ins alone, so their answer stays as it was
                body["metrics"] = list(self.metrics)
        if self.detail:
            body["detail"] = self.detail
        return body


# Attempts (and the pause before each retry) for a pageview whose transaction hit a
# transient database error: a PostgreSQL deadlock or serialization failure, or SQLite
# still locked after its busy timeout. PostHog waits 10 s for an answer, so keep it short.
RECORD_RETRY_PAUSES = (0.05, 0.25)
# What a caller may show; the driver's own message (host, address, port) goes to the log only.
UNAVAILABLE = "The database is unavailable right now; nothing was recorded (the log says why)."
FAILED = "The database failed to record the pageview; nothing was recorded (the log says why)."


def record_pageview(
    *,
    key: str,
    event: str,
    timestamp: dt.datetime,
    visitor_id: str | None,
    host: str | None = None,
    properties: Mapping[str, Any] | None = None,
) -> PageviewResult:
    """Count one webhook event in the week of its `timestamp`, exactly once, for every metric
    it matches: the built-ins (an event of VISITORSYNC_EVENT) and each user-defined count,
    unique or sum metric whose events include it and whose property conditions all hold on
    `properties` (metric_matches.py).

    `key` identifies the event (PostHog's event uuid): a second delivery of the same key is
    a DUPLICATE and changes nothing. A visitor adds to a week's visitors (or a unique metric's
    number) only the first time that week. Everything is one transaction, safe under
    concurrent deliveries. Raises RecordingUnavailable when the database keeps failing, does
    not answer within VISITORSYNC_WEBHOOK_DB_TIMEOUT or is known not to answer
    (metrics.core.db_stall: then at once, without waiting on it), InvalidPageview when an
    event that counts for visitors or a unique metric has no `visitor_id`. An event that no
    metric counts, or that comes from a host VISITORSYNC_HOSTS leaves out, is IGNORED.
    """
    if not counting.counts_host(host):
        hosts = ", ".join(str(pattern) for pattern in counting.host_patterns())
        return PageviewResult(
            PageviewStatus.IGNORED,
            detail=f"Only events from {hosts} (or without a $host) are counted (VISITORSYNC_HOSTS).",
        )
    delivery = _Delivery(
        key=key, event=event, timestamp=timestamp, visitor_id=visitor_id, properties=properties or {}
    )
    planned = None
    cached = metric_matches.cached_metrics()
    if cached is not None:
        # Decided without the database: an ignored or too old event never waits on it.
        planned = delivery.plan(cached)
        if isinstance(planned, PageviewResult):
            return planned
    if db_stall.stalled():
        raise RecordingUnavailable(UNAVAILABLE)
    with database_deadline(settings.VISITORSYNC_WEBHOOK_DB_TIMEOUT, on_expiry=_stalled) as deadline:
        return _record(delivery, planned=planned, deadline=deadline)


@dataclasses.dataclass(frozen=True)
class _Delivery:
    key: str
    event: str
    timestamp: dt.datetime
    visitor_id: str | None
    properties: Mapping[str, Any]

    @property
    def week(self) -> dt.date:
        return weeks.week_start_for(self.timestamp)

    def plan(self, metrics: tuple) -> "PageviewResult | _Plan":
        """What this delivery counts among `metrics`; a result if it counts nothing."""
        built_in = counting.counts_event(self.event)
        matched = metric_matches.matching(metrics, event=self.event, properties=self.properties)
        if not built_in and not matched:
            names = ", ".join(
                repr(name)
                for name in metric_matches.destination_events(metrics, built_in=counting.event_names())
            )
            return PageviewResult(
                PageviewStatus.IGNORED,
                detail=f"Only {names} events are counted (VISITORSYNC_EVENT and the metrics' events), "
                "with the metrics' property conditions.",
            )
        oldest = oldest_tracked_week()
        if self.timestamp < weeks.week_bounds(oldest)[0]:
            return PageviewResult(
                PageviewStatus.TOO_OLD,
                week_start=self.week,
                detail=(
                    f"Weeks before {oldest} are only counted by the scheduled sync "
                    "(VISITORSYNC_WEBHOOK_RETENTION_WEEKS)."
                ),
            )
        needs_visitor = built_in or any(m.definition.kind is Kind.UNIQUE for m in matched)
        if needs_visitor and not self.visitor_id:
            raise InvalidPageview("a counted event needs a visitor id")
        week = self.week
        return _Plan(
            week=week,
            built_in_hash=metric_matches.visitor_hash(week, self.visitor_id) if built_in else None,
            increments=metric_matches.increments(
                matched, properties=self.properties, week=week, visitor_id=self.visitor_id
            ),
        )


@dataclasses.dataclass(frozen=True)
class _Plan:
    week: dt.date
    built_in_hash: bytes | None
    increments: tuple[metric_matches.Increment, ...]


def _stalled() -> None:
    db_stall.enter("a webhook delivery's wait ran out VISITORSYNC_WEBHOOK_DB_TIMEOUT")


def _record(delivery: _Delivery, *, planned: "_Plan | None", deadline: Deadline) -> PageviewResult:
    """Write `planned` (None: plan with the definitions, read now if this process has no fresh
    copy), retrying a transient failure within the deadline."""
    key = delivery.key
    week = delivery.week
    pauses = iter(RECORD_RETRY_PAUSES)
    while True:
        skipped_check = False
        try:
            skipped_check = delivery_connection.check_connection(deadline)
            # The definitions are read here (when this process has no fresh copy), under the
            # deadline and after the connection's check, like every other wait of a delivery.
            plan = planned or delivery.plan(metric_matches.counted_metrics())
            if isinstance(plan, PageviewResult):
                return plan
            result = _count(key=key, plan=plan)
            delivery_connection.answered()
            return result
        except OperationalError as err:
            if delivery_connection.recheck_after_failure(skipped_check=skipped_check, deadline=deadline):
                # The connection died after its last answer: what the skipped check would have
                # found. Again at once on a new one (the uuid keeps it counted once).
                logger.info(
                    "webhook key=%s week=%s reconnecting after: %s", loggable(key), week, loggable(err)
                )
                continue
            reason = f"no answer within {deadline.seconds:g} s" if deadline.expired else err
            pause = next(pauses, None)
            # A retry helps after a deadlock, a serialization failure or a busy SQLite file,
            # on a connection that still works. Not once the time is up; not on a connection
            # that is gone (a new one may take DATABASE_CONNECT_TIMEOUT again, past PostHog's
            # patience: PostHog retries instead); not inside a caller's transaction (broken).
            if (
                pause is None
                or deadline.expired
                or connection.in_atomic_block
                or not delivery_connection.still_connected()
            ):
                logger.error("webhook key=%s week=%s not recorded: %s", loggable(key), week, loggable(reason))
                if db_stall.timed_out(err):
                    db_stall.enter("opening a connection ran out DATABASE_CONNECT_TIMEOUT")
                raise RecordingUnavailable(UNAVAILABLE) from err
            logger.warning("webhook key=%s week=%s retrying after: %s", loggable(key), week, loggable(err))
            time.sleep(pause)
        except DatabaseError as err:
            delivery_connection.forget()
            logger.exception("webhook key=%s week=%s not recorded: %s", loggable(key), week, loggable(err))
            raise RecordingUnavailable(FAILED) from err


def oldest_tracked_week(*, now: dt.datetime | None = None) -> dt.date:
    """First week whose webhook events are still deduplicated (older ones are pruned)."""
    current = weeks.current_week_start(now=now)
    return current - weeks.ONE_WEEK * (settings.VISITORSYNC_WEBHOOK_RETENTION_WEEKS - 1)


def _count(*, key: str, plan: _Plan) -> PageviewResult:
    written = write_delivery(
        key=key,
        week=plan.week,
        now=timezone.now(),
        built_in_hash=plan.built_in_hash,
        increments=plan.increments,
    )
    if not written.counted:
        return PageviewResult(PageviewStatus.DUPLICATE, week_start=plan.week)
    changed = tuple(i.key for i in plan.increments if i.metric_id in written.changed)
    return PageviewResult(
        PageviewStatus.COUNTED, week_start=plan.week, new_visitor=written.new_visitor, metrics=changed
    )


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
