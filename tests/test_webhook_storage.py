"""What the webhook keeps per event: compact keys and hashes, and no index beyond those its
queries use (bench/webhook_storage.py measures the bytes)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from metrics import tracker
from metrics.core import weeks
from metrics.models import WebhookDelivery, WeekVisitor
from metrics.tracker import pageviews

pytestmark = pytest.mark.django_db


def _indexes(model) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [model._meta.db_table])
        return sorted(row[0] for row in cursor.fetchall())


def test_only_the_indexes_the_webhook_and_its_readers_use():
    if connection.vendor != "postgresql":
        pytest.skip("index definitions and their sizes are PostgreSQL's")
    deliveries = _indexes(WebhookDelivery)
    # The key (primary key, a uuid), the week (pruning), received_at as BRIN (the quiet alert).
    assert len(deliveries) == 3, deliveries
    assert [d for d in deliveries if "metrics_webhookdelivery_pkey" in d and d.endswith("btree (key)")]
    assert [d for d in deliveries if "USING brin (received_at)" in d], deliveries
    assert not [d for d in deliveries if "pattern_ops" in d], deliveries
    # Visitors: only the primary key (week_start, visitor_hash), which pruning by week uses too.
    assert [d.split(" USING ")[1] for d in _indexes(WeekVisitor)] == ["btree (week_start, visitor_hash)"]
    # The 16-byte key and visitor hash are stored as such: a uuid and a bytea, never text.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attrelid::regclass::text, attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid IN (%s::regclass, %s::regclass) AND attname IN ('key', 'visitor_hash') "
            "ORDER BY attname",
            [WebhookDelivery._meta.db_table, WeekVisitor._meta.db_table],
        )
        assert cursor.fetchall() == [
            (WebhookDelivery._meta.db_table, "key", "uuid"),
            (WeekVisitor._meta.db_table, "visitor_hash", "bytea"),
        ]


def test_a_delivery_keeps_16_bytes_of_key_and_of_visitor_hash():
    week = weeks.current_week_start()
    result = tracker.record_pageview(
        key="not-a-uuid webhook id", event="$pageview", timestamp=weeks.week_bounds(week)[0], visitor_id="v1"
    )
    assert str(result.status) == "counted"
    (key,) = WebhookDelivery.objects.values_list("key", flat=True)
    assert key == WebhookDelivery.key_for("not-a-uuid webhook id") and len(key.bytes) == 16
    (visitor_hash,) = WeekVisitor.objects.values_list("visitor_hash", flat=True)
    assert len(bytes(visitor_hash)) == 16
    assert (
        tracker.record_pageview(
            key="not-a-uuid webhook id",
            event="$pageview",
            timestamp=weeks.week_bounds(week)[0],
            visitor_id="v1",
        ).status
        == "duplicate"
    )


def test_pruning_a_week_deletes_by_an_index_on_week_start():
    if connection.vendor != "postgresql":
        pytest.skip("the plan is PostgreSQL's")
    with CaptureQueriesContext(connection) as captured:
        pageviews.prune_webhook_rows()
    deletes = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("DELETE")]
    # One statement per table by a week_start range: no rows are read into Python first.
    assert len(deletes) == 2 and len(captured.captured_queries) == 2, captured.captured_queries
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # small tables: ask what it can use
        for sql in deletes:
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Index" in plan and "week_start" in plan, plan
