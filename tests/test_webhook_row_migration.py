"""Migration 0011: the webhook's dedup rows made in the old schema (text keys, 64-digit hex
HMACs) are converted so every event and visitor seen before still counts once after it."""

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from django.utils.crypto import salted_hmac

from metrics import tracker
from metrics.core import weeks
from metrics.models import WebhookDelivery, WeeklyMetric, WeekVisitor
from metrics.tracker.metric_matches import VISITOR_HASH_PURPOSE

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("metrics", "0010_drop_webhookdelivery_key_like")]
EVENT = str(uuid.uuid4())
OTHER_KEY = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"  # a webhook-id, not a uuid
UPPER = str(uuid.uuid4()).upper()  # not canonical: hashed, and kept apart from its lowercase


def _old_hash(message: str) -> str:
    """The visitor hash as the code before 0011 stored it."""
    return salted_hmac(VISITOR_HASH_PURPOSE, message, algorithm="sha256").hexdigest()


def _old_rows(moment: dt.datetime) -> tuple:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    week = weeks.week_start_for(moment)
    old.get_model("metrics", "WeeklyMetric").objects.create(week_start=week, visitors=1, pageviews=3)
    deliveries = old.get_model("metrics", "WebhookDelivery")
    received = timezone.now().replace(microsecond=0) - dt.timedelta(hours=2)
    for key in (EVENT, OTHER_KEY, UPPER):
        deliveries.objects.create(key=key, week_start=week, received_at=received)
    old.get_model("metrics", "WeekVisitor").objects.create(
        week_start=week, visitor_hash=_old_hash(f"{week}:visitor-1")
    )
    return week, received


def _migrate(target) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(target)


def _deliver(key: str, moment: dt.datetime, visitor: str) -> tuple[str, bool]:
    result = tracker.record_pageview(key=key, event="$pageview", timestamp=moment, visitor_id=visitor)
    return (str(result.status), result.new_visitor)


def test_old_keys_and_visitors_still_count_once():
    moment = timezone.now() - dt.timedelta(hours=1)
    week, received = _old_rows(moment)
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    assert set(WebhookDelivery.objects.values_list("key", flat=True)) == {
        uuid.UUID(EVENT),
        WebhookDelivery.key_for(OTHER_KEY),
        WebhookDelivery.key_for(UPPER),
    }
    assert WebhookDelivery.key_for(UPPER) != uuid.UUID(UPPER)
    assert set(WebhookDelivery.objects.values_list("week_start", "received_at")) == {(week, received)}
    for key in (EVENT, OTHER_KEY, UPPER):
        assert _deliver(key, moment, "visitor-1") == ("duplicate", False)
    assert _deliver(UPPER.lower(), moment, "visitor-1") == ("counted", False)  # a visitor seen before
    assert _deliver(str(uuid.uuid4()), moment, "visitor-2") == ("counted", True)
    week_row = WeeklyMetric.objects.get(week_start=week)
    assert (week_row.visitors, week_row.pageviews) == (2, 5)
    assert WeekVisitor.objects.filter(week_start=week).count() == 2


def test_the_migration_back_keeps_uuid_keys_exactly():
    moment = timezone.now() - dt.timedelta(hours=1)
    week, _received = _old_rows(moment)
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    _migrate(BEFORE)
    old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
    keys = set(old.get_model("metrics", "WebhookDelivery").objects.values_list("key", flat=True))
    assert EVENT in keys and len(keys) == 3
    hashes = list(old.get_model("metrics", "WeekVisitor").objects.values_list("visitor_hash", flat=True))
    assert hashes == [_old_hash(f"{week}:visitor-1")[:32]]
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert WebhookDelivery.objects.filter(key=uuid.UUID(EVENT)).exists()
    assert WeekVisitor.objects.count() == 1
