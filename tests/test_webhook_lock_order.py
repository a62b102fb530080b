"""Concurrent deliveries of one week, some counted by the built-ins and a user metric, some by
user metrics only, lock the week's row before the metrics' rows in every case, as the sync
does: PostgreSQL never finds a deadlock between them (it would abort one after
deadlock_timeout and the delivery would be retried) and every number adds up."""

import logging
import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from metrics import catalog, tracker
from metrics.models import MetricValue, WeeklyMetric

pytestmark = pytest.mark.django_db(transaction=True)

THREADS, PER_THREAD = 8, 40


def test_mixed_deliveries_of_one_week_never_deadlock(settings, caplog):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and deadlock detection are PostgreSQL's (SQLite locks the file)")
    settings.VISITORSYNC_EVENT = "$pageview"
    settings.VISITORSYNC_HOSTS = ""
    catalog.import_document(
        {
            "metrics": [
                # Both kinds of delivery write this one's row: the rows the two could take in
                # opposite orders.
                {"key": "actions", "name": "Actions", "kind": "count", "events": ["$pageview", "signed_up"]},
                {"key": "signups", "name": "Signups", "kind": "count", "events": ["signed_up"]},
            ]
        },
        dry_run=False,
    )
    now = timezone.now()
    tracker.record_pageview(key=str(uuid.uuid4()), event="$pageview", timestamp=now, visitor_id="v0")
    barrier = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def deliver(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            for n in range(PER_THREAD):
                tracker.record_pageview(
                    key=str(uuid.uuid4()),
                    event="$pageview" if (index + n) % 2 else "signed_up",
                    timestamp=now,
                    visitor_id=f"v{index}-{n}",
                )
        except BaseException as err:  # shown by the assertion below
            failures.append(err)
        finally:
            connection.close()

    caplog.set_level(logging.WARNING, logger="metrics.tracker")
    workers = [threading.Thread(target=deliver, args=(index,)) for index in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert failures == []
    assert not [r.getMessage() for r in caplog.records if "deadlock" in r.getMessage().lower()]
    week = WeeklyMetric.objects.get()
    half = THREADS * PER_THREAD // 2
    assert week.pageviews == half + 1
    values = dict(MetricValue.objects.values_list("metric__key", "value"))
    assert values == {"actions": THREADS * PER_THREAD + 1, "signups": half}
