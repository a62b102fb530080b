"""Concurrent deliveries and a sync running beside them, with real threads and connections.

In the style of Django's own race tests: each thread has its own database connection
(closed at the end), threads start together behind a barrier, and the final numbers must
equal the distinct events and visitors sent, on the file SQLite database and PostgreSQL.
"""

import datetime as dt
import random
import threading
from collections import defaultdict
from http import HTTPStatus

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from metrics import tracker
from metrics.core import weeks
from metrics.models import SyncRun, WebhookDelivery, WeeklyMetric, WeekVisitor
from tests.support.helpers import stored_numbers, truth
from tests.support.webhook_payloads import SECRET, pageview, post

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.POSTHOG_WEBHOOK_SECRET = SECRET
    settings.POSTHOG_WEBHOOK_SIGNING_SECRET = ""
    settings.DEBUG = False


def run_in_threads(work_lists: list[list[dict]]) -> list[tuple[int, str]]:
    """Each list is posted by its own thread; all start together. Returns (status, answer)."""
    barrier = threading.Barrier(len(work_lists))
    results: list[tuple[int, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(bodies: list[dict]) -> None:
        client = Client()
        try:
            barrier.wait(timeout=30)
            for body in bodies:
                response = post(client, body)
                answer = (
                    response.json().get("status", "")
                    if response["Content-Type"] == "application/json"
                    else ""
                )
                with lock:
                    results.append((response.status_code, answer))
        except BaseException as err:  # surfaces in the main thread below
            errors.append(err)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(bodies,)) for bodies in work_lists]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)
    return results


def events_with_duplicates(*, count: int, visitors: int, weeks_back: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    now = timezone.now()
    return [
        pageview(
            uuid=f"event-{seed}-{n}",
            visitor=f"visitor-{rng.randrange(visitors)}",
            timestamp=now - dt.timedelta(hours=rng.uniform(0, 24 * 7 * weeks_back)),
        )
        for n in range(count)
    ]


def ground_truth(events: list[dict]) -> dict[dt.date, tuple[int, int]]:
    persons: dict[dt.date, set[str]] = defaultdict(set)
    views: dict[dt.date, int] = defaultdict(int)
    for body in events:
        stamp = dt.datetime.fromisoformat(body["event"]["timestamp"])
        week = weeks.week_start_for(stamp)
        persons[week].add(body["person"]["id"])
        views[week] += 1
    return {week: (len(persons[week]), views[week]) for week in views}


def test_concurrent_overlapping_deliveries_count_each_event_and_visitor_once():
    events = events_with_duplicates(count=240, visitors=50, weeks_back=3, seed=1)
    rng = random.Random(2)
    # Every event goes to two or three threads (redeliveries racing the first delivery),
    # in a different order in each thread.
    work: list[list[dict]] = [[] for _ in range(THREADS)]
    for body in events:
        for index in rng.sample(range(THREADS), rng.choice((2, 3))):
            work[index].append(body)
    for bodies in work:
        rng.shuffle(bodies)

    results = run_in_threads(work)

    assert {status for status, _ in results} == {HTTPStatus.OK}, "no 5xx, no 4xx"
    answers = [answer for _, answer in results]
    assert answers.count("counted") == len(events)
    assert answers.count("duplicate") == len(results) - len(events)
    assert stored_numbers() == ground_truth(events)
    assert WebhookDelivery.objects.count() == len(events)
    assert WeekVisitor.objects.count() == sum(v for v, _ in ground_truth(events).values())


def test_concurrent_first_events_of_a_new_week_create_it_once():
    moment = timezone.now() - dt.timedelta(days=7)
    work = [
        [pageview(uuid=f"t{thread}-e{n}", visitor=f"v{n % 3}", timestamp=moment) for n in range(5)]
        for thread in range(THREADS)
    ]
    results = run_in_threads(work)
    assert all(answer == "counted" for _, answer in results)
    assert stored_numbers() == {weeks.week_start_for(moment): (3, THREADS * 5)}


def test_pageview_during_a_sync_is_still_counted_after_it(posthog_stub, settings):
    """The sync snapshots, asks PostHog and writes; a pageview arriving in between survives."""
    settings.VISITORSYNC_BACKFILL_WEEKS = 2
    current = weeks.current_week_start()
    known = truth(posthog_stub, settings)
    posthog_visitors, posthog_pageviews = known.get(current, (0, 0))
    release = threading.Event()
    posthog_stub.barrier_before_answer = release
    outcome: dict = {}

    def sync() -> None:
        try:
            outcome["run"] = tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND))
        except BaseException as err:
            outcome["error"] = err
        finally:
            connection.close()

    thread = threading.Thread(target=sync)
    thread.start()
    try:
        assert posthog_stub.query_received.wait(timeout=30), "the sync never asked PostHog"
        # The sync has taken its snapshot and waits for PostHog's answer: a pageview now.
        response = post(Client(), pageview(visitor="someone-new-to-posthog"))
        assert response.json()["status"] == "counted"
        assert response.json()["week"] == current.isoformat()
    finally:
        release.set()
        thread.join(timeout=60)
    assert "error" not in outcome, outcome
    assert outcome["run"].status == SyncRun.Status.SUCCEEDED
    metric = WeeklyMetric.objects.get(week_start=current)
    assert (metric.posthog_visitors, metric.posthog_pageviews) == (posthog_visitors, posthog_pageviews)
    assert (metric.visitors, metric.pageviews) == (posthog_visitors + 1, posthog_pageviews + 1)
