"""Issue 19: a database in the schema before metric definitions (migration 0005) migrates to
today's with every stored number, sync run and webhook row kept, and reads as before."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from metrics.core import weeks
from metrics.models import Metric, MetricValue, SyncRun, WebhookDelivery, WeeklyMetric, WeekVisitor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("metrics", "0005_alert_deliveries")]
TOKEN = "migration-token-0123456789abcdef01"


def _old_database() -> dict:
    """Rows as an installation before issue 19 had them: weeks (synced, webhook-only, and one
    with numbers past 2**32), a succeeded and a failed run with changes, webhook rows."""
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    week_model = old.get_model("metrics", "WeeklyMetric")
    current = weeks.current_week_start()
    synced_at = timezone.now().replace(microsecond=0) - dt.timedelta(days=1)
    rows = {
        current - weeks.ONE_WEEK * 3: (1234, 5678, 1200, 5600, synced_at),
        current - weeks.ONE_WEEK * 2: (2**33 + 1, 2**34 + 3, 2**33 + 1, 2**34 + 3, synced_at),
        current - weeks.ONE_WEEK: (17, 40, None, None, None),  # counted by the webhook only
    }
    for week, (visitors, pageviews, ph_visitors, ph_pageviews, at) in rows.items():
        week_model.objects.create(
            week_start=week,
            visitors=visitors,
            pageviews=pageviews,
            posthog_visitors=ph_visitors,
            posthog_pageviews=ph_pageviews,
            synced_at=at,
        )
    run_model = old.get_model("metrics", "SyncRun")
    change = {
        "week_start": (current - weeks.ONE_WEEK * 3).isoformat(),
        "visitors_before": 1100,
        "visitors_after": 1200,
        "pageviews_before": 5000,
        "pageviews_after": 5600,
    }
    run_model.objects.create(
        trigger="cron", status="succeeded", weeks_checked=3, weeks_updated=1, queries=1, changes=[change]
    )
    run_model.objects.create(trigger="command", status="failed", error="PostHog answered 503.")
    old.get_model("metrics", "WebhookDelivery").objects.create(key="evt-1", week_start=current)
    old.get_model("metrics", "WeekVisitor").objects.create(week_start=current, visitor_hash="a" * 64)
    return {"rows": rows, "change": change, "current": current}


def test_every_number_run_and_webhook_row_is_kept(client, settings):
    before = _old_database()
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    stored = {
        row.week_start: (
            row.visitors,
            row.pageviews,
            row.posthog_visitors,
            row.posthog_pageviews,
            row.synced_at,
        )
        for row in WeeklyMetric.objects.all()
    }
    assert stored == before["rows"]
    runs = {run.status: run for run in SyncRun.objects.all()}
    assert runs["succeeded"].changes == [before["change"]]
    assert (runs["succeeded"].weeks_checked, runs["succeeded"].weeks_updated) == (3, 1)
    assert runs["failed"].error == "PostHog answered 503."
    # Migration 0011 keeps them compact (tests/test_webhook_row_migration.py).
    assert list(WebhookDelivery.objects.values_list("key", "week_start")) == [
        (WebhookDelivery.key_for("evt-1"), before["current"])
    ]
    assert [bytes(h) for h in WeekVisitor.objects.values_list("visitor_hash", flat=True)] == [b"\xaa" * 16]
    # The two built-ins exist and hold no numbers of their own: theirs stay on the week rows.
    assert sorted(Metric.objects.values_list("key", "kind")) == [
        ("pageviews", "count"),
        ("visitors", "unique"),
    ]
    assert not MetricValue.objects.exists()
    call_command("makemigrations", "metrics", "--check", "--dry-run", verbosity=0)

    # The stats API reads the same numbers under the same fields as before.
    settings.VISITORSYNC_API_TOKENS = TOKEN
    response = client.get("/api/stats/weekly", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    items = {item["week_start"]: item for item in response.json()["weeks"]}
    for week, (visitors, pageviews, *_rest) in before["rows"].items():
        assert (items[week.isoformat()]["visitors"], items[week.isoformat()]["pageviews"]) == (
            visitors,
            pageviews,
        )


def test_the_migration_back_keeps_the_week_rows():
    before = _old_database()
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    kept = dict(old.get_model("metrics", "WeeklyMetric").objects.values_list("week_start", "visitors"))
    assert kept == {week: numbers[0] for week, numbers in before["rows"].items()}
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
