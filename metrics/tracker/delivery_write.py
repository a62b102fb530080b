"""Writing one counted webhook delivery: its dedup key, its visitor hashes, the built-ins'
week row and the user-defined metrics' MetricValue rows, all or nothing.

PostgreSQL: one statement (data-modifying CTEs), one round trip. Elsewhere: one transaction.
Either way the dedup key's insert decides: a key seen before changes nothing else.
"""

import dataclasses
import datetime as dt
import uuid

from django.db import connection, models, transaction
from django.db.models import F

from metrics.models import Metric, MetricValue, WebhookDelivery, WeeklyMetric, WeekVisitor
from metrics.tracker.metric_matches import Increment


@dataclasses.dataclass(frozen=True)
class Written:
    """`counted`: the key was new; `new_visitor`: the built-in visitor was new that week;
    `changed`: the ids of the user metrics whose value changed."""

    counted: bool
    new_visitor: bool = False
    changed: frozenset[int] = frozenset()


def write_delivery(
    *,
    key: str,
    week: dt.date,
    now: dt.datetime,
    built_in_hash: bytes | None,
    increments: tuple[Increment, ...],
) -> Written:
    """Record the delivery `key` of `week`: the built-ins count it when `built_in_hash` is
    given (pageviews +1, visitors +1 if that hash is new), each of `increments` adds its
    amount (a unique one only if its hash is new). A metric deleted meanwhile is skipped.
    `key` is stored as WebhookDelivery.key_for(key) (16 bytes)."""
    stored_key = WebhookDelivery.key_for(key)
    if connection.vendor == "postgresql":
        return _in_one_statement(
            key=stored_key, week=week, now=now, built_in_hash=built_in_hash, increments=increments
        )
    with transaction.atomic():
        # The unique key is the idempotency check: a concurrent or earlier delivery of the
        # same event inserts nothing here, and then nothing else may change.
        if not _insert_if_new(WebhookDelivery, key=stored_key, week_start=week, received_at=now):
            return Written(counted=False)
        new_visitor = False
        if built_in_hash is not None:
            new_visitor = _insert_if_new(WeekVisitor, week_start=week, visitor_hash=built_in_hash)
            # Increments in SQL (never read-modify-write), so concurrent deliveries and a
            # running sync (which keeps what was added after its snapshot) all add up.
            values = {"pageviews": F("pageviews") + 1, "updated_at": now}
            if new_visitor:
                values["visitors"] = F("visitors") + 1
            week_rows = WeeklyMetric.objects.filter(week_start=week)
            if not week_rows.update(**values):
                # First event of a new week; a concurrent delivery or sync may create it too.
                WeeklyMetric.objects.bulk_create([WeeklyMetric(week_start=week)], ignore_conflicts=True)
                week_rows.update(**values)
        elif increments:
            # Only user metrics count it, yet the week changes: its Last-Modified (the stats
            # API's) moves. The week's row first, as everywhere (see the PostgreSQL statement).
            WeeklyMetric.objects.filter(week_start=week).update(updated_at=now)
        changed = set()
        for increment in increments:
            if increment.visitor_hash is not None and not _insert_if_new(
                WeekVisitor, week_start=week, visitor_hash=increment.visitor_hash
            ):
                continue
            if _add_to_value(week=week, increment=increment):
                changed.add(increment.metric_id)
    return Written(counted=True, new_visitor=new_visitor, changed=frozenset(changed))


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _add_to_value(*, week: dt.date, increment: Increment) -> bool:
    """Upsert the metric's week (value + amount), if the metric still exists."""
    value = _table(MetricValue)
    # Only table names go into the SQL text; every value is a parameter. The WHERE also keeps
    # SQLite from reading ON CONFLICT as a join constraint of the SELECT.
    sql = f"""
        INSERT INTO {value} (metric_id, week_start, value)
        SELECT id, %s, %s FROM {_table(Metric)} WHERE id = %s
        ON CONFLICT (week_start, metric_id) DO UPDATE SET value = {value}.value + excluded.value
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [week, increment.amount, increment.metric_id])
        return cursor.rowcount > 0


def _in_one_statement(
    *,
    key: uuid.UUID,
    week: dt.date,
    now: dt.datetime,
    built_in_hash: bytes | None,
    increments: tuple[Increment, ...],
) -> Written:
    """PostgreSQL: every step as one atomic statement, one round trip instead of a
    transaction's five or more. Each step runs only if the delivery's key was new (the
    `delivery` CTE's RETURNING); a concurrent delivery of the same key waits for the first to
    commit and then inserts nothing. Visitor hashes (the built-in's and each unique metric's)
    go in from one array; a unique metric adds only where its hash came back inserted."""
    delivery, visitor, week_row, value = (
        _table(model) for model in (WebhookDelivery, WeekVisitor, WeeklyMetric, MetricValue)
    )
    hashes = sorted({h for h in [built_in_hash, *(i.visitor_hash for i in increments)] if h is not None})
    sql = f"""
        WITH delivery AS (
            INSERT INTO {delivery} (key, week_start, received_at) VALUES (%(key)s, %(week)s, %(now)s)
            ON CONFLICT DO NOTHING RETURNING 1
        ), visitor AS (
            INSERT INTO {visitor} (week_start, visitor_hash)
            SELECT %(week)s, hash FROM unnest(%(hashes)s::bytea[]) AS wanted(hash)
            WHERE EXISTS (SELECT 1 FROM delivery) ORDER BY hash
            ON CONFLICT DO NOTHING RETURNING visitor_hash
        ), week AS (
            INSERT INTO {week_row} (week_start, visitors, pageviews, created_at, updated_at)
            SELECT %(week)s, (SELECT count(*) FROM visitor WHERE visitor_hash = %(built_in)s), 1,
                %(now)s, %(now)s
            WHERE %(built_in)s::bytea IS NOT NULL AND EXISTS (SELECT 1 FROM delivery)
            ON CONFLICT (week_start) DO UPDATE SET
                visitors = {week_row}.visitors + EXCLUDED.visitors,
                pageviews = {week_row}.pageviews + 1,
                updated_at = EXCLUDED.updated_at
            RETURNING 1
        ), touched AS (
            -- A delivery only user metrics count still changes the week: its Last-Modified moves.
            UPDATE {week_row} SET updated_at = %(now)s
            WHERE week_start = %(week)s AND %(built_in)s::bytea IS NULL
                AND cardinality(%(ids)s::bigint[]) > 0 AND EXISTS (SELECT 1 FROM delivery)
            RETURNING 1
        ), metric_value AS (
            INSERT INTO {value} (metric_id, week_start, value)
            SELECT metric.id, %(week)s, added.amount
            FROM unnest(%(ids)s::bigint[], %(amounts)s::float8[], %(metric_hashes)s::bytea[])
                AS added(metric_id, amount, hash)
            JOIN {_table(Metric)} AS metric ON metric.id = added.metric_id
            -- The week's row is locked first (by `week` or `touched`), as the sync locks it before
            -- the metric rows: one order for every writer, so no two can deadlock.
            WHERE EXISTS (SELECT 1 FROM delivery)
                AND (SELECT count(*) FROM week) + (SELECT count(*) FROM touched) >= 0
                AND (added.hash IS NULL OR added.hash IN (SELECT visitor_hash FROM visitor))
            ORDER BY metric.id
            ON CONFLICT (week_start, metric_id) DO UPDATE SET value = {value}.value + EXCLUDED.value
            RETURNING metric_id
        )
        SELECT (SELECT count(*) FROM delivery),
            (SELECT count(*) FROM visitor WHERE visitor_hash = %(built_in)s),
            (SELECT count(*) FROM week),
            (SELECT coalesce(array_agg(metric_id), '{{}}') FROM metric_value)
    """  # noqa: S608 (only table names go into the text; every value is a parameter)
    params = {
        "key": key,
        "week": week,
        "now": now,
        "hashes": hashes,
        "built_in": built_in_hash,
        "ids": [i.metric_id for i in increments],
        "amounts": [i.amount for i in increments],
        "metric_hashes": [i.visitor_hash for i in increments],
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted, new_visitor, _weeks_written, changed = cursor.fetchone()
    return Written(counted=bool(inserted), new_visitor=bool(new_visitor), changed=frozenset(changed))


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
