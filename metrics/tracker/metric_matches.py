"""Which user-defined metrics one webhook delivery counts for, and by how much.

The definitions come from `catalog.counted()`, kept in this process for CACHE_SECONDS so a
delivery costs no query to read them most of the time; saving or deleting a Metric in this
process drops the copy at once (another process sees the change within CACHE_SECONDS).
Nothing here reads the database except `counted_metrics()`, which its callers run inside the
delivery's database deadline, after the stall check (metrics/core/db_stall.py).
"""

import dataclasses
import datetime as dt
import functools
import hmac
import threading
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models.signals import post_delete, post_save
from django.utils.crypto import salted_hmac

from metrics import catalog
from metrics.core import db_stall
from metrics.core.db_deadline import database_deadline
from metrics.core.definitions import Kind
from metrics.core.property_values import summable
from metrics.models import Metric
from metrics.models.week_rows import KEY_BYTES

# How long a process keeps the definitions it read (seconds).
CACHE_SECONDS = 5.0
VISITOR_HASH_PURPOSE = "visitorsync.webhook.week-visitor"


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.metrics: tuple[catalog.Counted, ...] | None = None
        self.read_at = 0.0
        self.generation = 0  # bumped by every drop, so a read that raced one is not kept


_cache = _Cache()


def cached_metrics() -> tuple[catalog.Counted, ...] | None:
    """The definitions if this process read them less than CACHE_SECONDS ago, else None."""
    metrics = _cache.metrics
    if metrics is not None and time.monotonic() - _cache.read_at < CACHE_SECONDS:
        return metrics
    return None


def counted_metrics() -> tuple[catalog.Counted, ...]:
    """The user-defined count, unique and sum metrics: the process's copy, or read now (one
    query). Call it inside the caller's database deadline."""
    metrics = cached_metrics()
    if metrics is not None:
        return metrics
    generation = _cache.generation
    metrics = catalog.counted()
    with _cache.lock:
        if generation == _cache.generation:
            _cache.metrics, _cache.read_at = metrics, time.monotonic()
    return metrics


def drop_cache(**_signal_arguments: Any) -> None:
    """Forget the definitions (a Metric was saved or deleted; tests between databases)."""
    with _cache.lock:
        _cache.metrics = None
        _cache.generation += 1


post_save.connect(drop_cache, sender=Metric, dispatch_uid="visitorsync.webhook.metric-saved")
post_delete.connect(drop_cache, sender=Metric, dispatch_uid="visitorsync.webhook.metric-deleted")


@dataclasses.dataclass(frozen=True)
class Increment:
    """What one delivery adds to one metric's week: `amount` (1 for count and unique, the
    property's number for sum); a unique metric adds it only if `visitor_hash` is new that week."""

    metric_id: int
    key: str
    amount: float
    visitor_hash: bytes | None = None


def matching(
    metrics: tuple[catalog.Counted, ...], *, event: str, properties: Mapping[str, Any]
) -> tuple[catalog.Counted, ...]:
    """The metrics whose events include `event`, whose every property condition holds, and (for
    a sum) whose property is a finite number, as the sync's query decides."""
    found = []
    for metric in metrics:
        definition = metric.definition
        if event not in definition.events:
            continue
        if not all(condition.matches(properties) for condition in definition.properties):
            continue
        if definition.kind is Kind.SUM and summable(properties.get(definition.sum_property)) is None:
            continue
        found.append(metric)
    return tuple(found)


def increments(
    metrics: tuple[catalog.Counted, ...],
    *,
    properties: Mapping[str, Any],
    week: dt.date,
    visitor_id: str | None,
) -> tuple[Increment, ...]:
    """One Increment per metric of `matching(...)`, in metric id order (so concurrent
    deliveries lock rows in one order). A unique metric needs `visitor_id`."""
    result = []
    for metric in sorted(metrics, key=lambda item: item.id):
        definition = metric.definition
        if definition.kind is Kind.SUM:
            amount = summable(properties.get(definition.sum_property))
            result.append(Increment(metric.id, definition.key, float(amount)))
        elif definition.kind is Kind.UNIQUE:
            result.append(
                Increment(
                    metric.id, definition.key, 1.0, visitor_hash=visitor_hash(week, visitor_id, metric.id)
                )
            )
        else:
            result.append(Increment(metric.id, definition.key, 1.0))
    return tuple(result)


def visitor_hash(week: dt.date, visitor_id: str | None, metric_id: int | None = None) -> bytes:
    """The keyed hash WeekVisitor keeps: over "week:visitor" for the built-in visitors, over
    "week:metric id:visitor" for a unique metric, so each has its own set per week. The
    first 16 bytes of the HMAC-SHA256 (before migration 0011: all 32, as 64 hex digits).

    Django's salted_hmac(VISITOR_HASH_PURPOSE, message, algorithm="sha256"), the same digest,
    with its derived key computed once per SECRET_KEY rather than for every delivery."""
    message = f"{week}:{visitor_id}" if metric_id is None else f"{week}:{metric_id}:{visitor_id}"
    keyed = _keyed_hmac(settings.SECRET_KEY).copy()
    keyed.update(message.encode())
    return keyed.digest()[:KEY_BYTES]


@functools.lru_cache(maxsize=4)
def _keyed_hmac(secret_key: str) -> hmac.HMAC:
    """An HMAC keyed as salted_hmac keys it (sha256 of purpose + secret), to copy per message."""
    return salted_hmac(VISITOR_HASH_PURPOSE, b"", secret_key, algorithm="sha256")


def destination_events(metrics: tuple[catalog.Counted, ...], *, built_in: tuple[str, ...]) -> tuple[str, ...]:
    """Every event the PostHog destination must send: the built-ins' first, then each metric's."""
    names = list(built_in)
    for metric in metrics:
        names.extend(metric.definition.events)
    return tuple(dict.fromkeys(names))


def metric_events() -> tuple[str, ...] | None:
    """The events the user-defined metrics count, for the webhook's health document; None when
    they cannot be read now: no fresh copy, and the database is stalled, fails, or does not
    answer within VISITORSYNC_WEBHOOK_DB_TIMEOUT."""
    metrics = cached_metrics()
    if metrics is None:
        if db_stall.stalled():
            return None
        try:
            with database_deadline(settings.VISITORSYNC_WEBHOOK_DB_TIMEOUT, on_expiry=_stalled):
                metrics = counted_metrics()
        except DatabaseError:
            return None
    return destination_events(metrics, built_in=())


def _stalled() -> None:
    db_stall.enter("reading the metric definitions ran out VISITORSYNC_WEBHOOK_DB_TIMEOUT")
