"""The webhook counts user-defined metrics (count, unique, sum) exactly once per delivery.

Fixture events: page views, signups (plan present and missing) and purchases whose `amount`
is a JSON number, a numeric string, missing, a boolean, blank and "n/a". One metric of every
kind with every property operator. The expected numbers are computed here, in plain Python
from the fixture's own table of what each amount is worth (not through metrics.core), and
compared with the stored MetricValue rows: delivered one by one, and concurrently over real
HTTP (the live server) with 15% of the events redelivered.
"""

import datetime as dt
import json
import random
import threading
import uuid
from collections import defaultdict
from http import HTTPStatus

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from metrics import catalog
from metrics.core import weeks
from metrics.models import Metric, MetricValue, WebhookDelivery, WeeklyMetric, WeekVisitor
from tests.support.kpis import stored_values
from tests.support.posthog_stub import week_start
from tests.support.webhook_payloads import SECRET, URL, pageview, post

METRICS = {
    "metrics": [
        {"key": "signups", "name": "Signups", "kind": "count", "events": ["signed_up"]},
        {
            "key": "pro_signups",
            "name": "Pro signups",
            "kind": "count",
            "events": ["signed_up"],
            "properties": [{"key": "plan", "operator": "exact", "value": ["pro", "team"]}],
        },
        {
            "key": "free_signups",
            "name": "Signups not on team plans",
            "kind": "count",
            "events": ["signed_up"],
            "properties": [{"key": "plan", "operator": "not_icontains", "value": ["TEAM"]}],
        },
        {
            "key": "non_pro_buyers",
            "name": "Buyers not on pro",
            "kind": "unique",
            "events": ["purchase"],
            "properties": [{"key": "plan", "operator": "is_not", "value": ["pro"]}],
        },
        {
            "key": "buyers",
            "name": "Buyers with a plan",
            "kind": "unique",
            "events": ["purchase", "signed_up"],
            "properties": [{"key": "plan", "operator": "is_set"}],
        },
        {
            "key": "planless_purchases",
            "name": "Purchases without a plan",
            "kind": "count",
            "events": ["purchase"],
            "properties": [{"key": "plan", "operator": "is_not_set"}],
        },
        {"key": "revenue", "name": "Revenue", "kind": "sum", "events": ["purchase"], "property": "amount"},
        {
            "key": "team_revenue",
            "name": "Team revenue",
            "kind": "sum",
            "events": ["purchase"],
            "property": "amount",
            "properties": [{"key": "plan", "operator": "icontains", "value": ["EAM"]}],
        },
        {
            "key": "signup_rate",
            "name": "Signup rate",
            "kind": "ratio",
            "numerator": "signups",
            "denominator": "visitors",
        },
    ]
}
MISSING = object()
# Each amount the fixture sends, with what it is worth to a sum (None: skipped), written out
# by hand from PostHog's toFloat rules (docs/research/posthog-metrics.md).
AMOUNTS = [
    (12.5, 12.5),
    ("7.25", 7.25),
    (MISSING, None),
    (True, None),
    ("inf", None),
    ("", None),
    ("n/a", None),
    (3, 3.0),
]
PLANS = ["pro", "team", "Steam", MISSING]


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.POSTHOG_WEBHOOK_SECRET = SECRET
    settings.POSTHOG_WEBHOOK_SIGNING_SECRET = ""
    settings.VISITORSYNC_EVENT = "$pageview"
    settings.VISITORSYNC_HOSTS = ""
    settings.DEBUG = False


def define_metrics() -> None:
    catalog.import_document(METRICS, dry_run=False)


def event_body(*, event: str, person: str, moment: dt.datetime, plan=MISSING, amount=MISSING) -> dict:
    body = pageview(uuid=str(uuid.uuid4()), visitor=person, timestamp=moment, event=event)
    properties = body["event"]["properties"]
    if plan is not MISSING:
        properties["plan"] = plan
    if amount is not MISSING:
        properties["amount"] = amount
    return body


def fixture_events(*, seed: int, count: int) -> list[tuple[dict, float | None]]:
    """(body, what its amount is worth) for `count` events over the last three weeks."""
    rng = random.Random(seed)
    now = timezone.now()
    events = []
    for _ in range(count):
        moment = now - dt.timedelta(hours=rng.uniform(0, 24 * 7 * 3))
        person = f"person-{rng.randrange(12)}"
        kind = rng.choice(["$pageview", "signed_up", "purchase", "purchase", "$autocapture"])
        plan = rng.choice(PLANS)
        amount, worth = rng.choice(AMOUNTS) if kind == "purchase" else (MISSING, None)
        events.append((event_body(event=kind, person=person, moment=moment, plan=plan, amount=amount), worth))
    return events


def local_week(timestamp: str) -> dt.date:
    """The week an event's timestamp falls in, cut the way PostHog cuts it (the stand-in's
    toStartOfWeek), not with metrics.core.weeks.week_start_for, the code under test."""
    return week_start(
        dt.datetime.fromisoformat(timestamp),
        tz_name=settings.VISITORSYNC_TIMEZONE,
        mode=weeks.hogql_week_mode(),
    )


def expected_numbers(events: list[tuple[dict, float | None]]) -> dict[tuple[dt.date, str], float]:
    """Every (week, key) with a non-zero number, computed from the bodies by hand."""
    counts: dict[tuple[dt.date, str], float] = defaultdict(float)
    persons: dict[tuple[dt.date, str], set[str]] = defaultdict(set)
    for body, worth in events:
        event = body["event"]
        week = local_week(event["timestamp"])
        plan = event["properties"].get("plan")  # every plan here is a string or missing
        name, person = event["event"], body["person"]["id"]
        if name == "signed_up":
            counts[week, "signups"] += 1
            if plan in ("pro", "team"):
                counts[week, "pro_signups"] += 1
            if plan is None or "team" not in plan.lower():
                counts[week, "free_signups"] += 1
        if name == "purchase":
            if plan != "pro":
                persons[week, "non_pro_buyers"].add(person)
            if plan is None:
                counts[week, "planless_purchases"] += 1
            if worth is not None:
                counts[week, "revenue"] += worth
                if plan is not None and "eam" in plan.lower():
                    counts[week, "team_revenue"] += worth
        if name in ("purchase", "signed_up") and plan is not None:
            persons[week, "buyers"].add(person)
    for place, seen in persons.items():
        counts[place] = len(seen)
    return {place: number for place, number in counts.items() if number}


def counted_values() -> dict[tuple[dt.date, str], float]:
    """Every stored non-zero value, (week, metric key) -> value."""
    return {slot: value for slot, (value, _posthog) in stored_values().items() if value}


def built_in_numbers(events: list[tuple[dict, float | None]]) -> dict[dt.date, tuple[int, int]]:
    persons, views = defaultdict(set), defaultdict(int)
    for body, _worth in events:
        if body["event"]["event"] == "$pageview":
            week = local_week(body["event"]["timestamp"])
            persons[week].add(body["person"]["id"])
            views[week] += 1
    return {week: (len(persons[week]), views[week]) for week in views}


def assert_same(stored: dict, expected: dict) -> None:
    assert stored.keys() == expected.keys()
    for place, number in expected.items():
        assert stored[place] == pytest.approx(number), place


@pytest.mark.django_db
def test_each_delivery_counts_for_every_metric_it_matches_once():
    define_metrics()
    events = fixture_events(seed=7, count=160)
    client = Client()
    for body, _worth in events:
        assert post(client, body).status_code == HTTPStatus.OK
    for body, _worth in events[::5]:  # PostHog's retries change nothing
        # An event no metric counts was never stored, so its retry is ignored again; every
        # other event (page views, signups, purchases: each matches a metric) is a duplicate.
        wanted = "ignored" if body["event"]["event"] == "$autocapture" else "duplicate"
        assert post(client, body).json()["status"] == wanted, body["event"]
    assert_same(counted_values(), expected_numbers(events))
    stored = {m.week_start: (m.visitors, m.pageviews) for m in WeeklyMetric.objects.all()}
    assert {week: numbers for week, numbers in stored.items() if numbers != (0, 0)} == built_in_numbers(
        events
    )


@pytest.mark.django_db
def test_the_answer_names_the_metrics_counted_and_a_purchase_leaves_pageviews_alone():
    define_metrics()
    body = event_body(event="purchase", person="p1", moment=timezone.now(), plan="team", amount="7.25")
    answer = post(Client(), body).json()
    assert answer["status"] == "counted"
    assert answer["metrics"] == ["non_pro_buyers", "buyers", "revenue", "team_revenue"]
    assert not WeeklyMetric.objects.exists()
    again = event_body(event="purchase", person="p1", moment=timezone.now(), plan="team", amount="n/a")
    # The same person that week: the unique metrics stay; the amount is not a number.
    answer = post(Client(), again).json()
    assert answer["status"] == "counted"
    assert "metrics" not in answer


@pytest.mark.django_db
def test_a_delivery_no_metric_counts_is_ignored_and_writes_nothing():
    define_metrics()
    body = event_body(event="$autocapture", person="p1", moment=timezone.now(), plan="pro", amount=5)
    answer = post(Client(), body).json()
    assert answer["status"] == "ignored"
    for name in ("$pageview", "signed_up", "purchase"):
        assert repr(name) in answer["detail"]
    # A sum whose amount is not a number and no other metric matching: ignored too.
    Metric.objects.exclude(key__in=["visitors", "pageviews", "revenue", "signup_rate", "signups"]).delete()
    blank = event_body(event="purchase", person="p1", moment=timezone.now(), amount="")
    assert post(Client(), blank).json()["status"] == "ignored"
    assert not WebhookDelivery.objects.exists()
    assert not WeekVisitor.objects.exists()
    assert not MetricValue.objects.exists()
    assert not WeeklyMetric.objects.exists()


@pytest.mark.django_db
def test_a_host_left_out_is_ignored_for_every_metric(settings):
    settings.VISITORSYNC_HOSTS = "example.com"
    define_metrics()
    body = event_body(event="signed_up", person="p1", moment=timezone.now(), plan="pro")
    body["event"]["properties"]["$host"] = "staging.example.org"
    assert post(Client(), body).json()["status"] == "ignored"
    assert not MetricValue.objects.exists()


@pytest.mark.django_db
def test_a_metric_saved_in_this_process_counts_at_once():
    client = Client()
    signup = event_body(event="signed_up", person="p1", moment=timezone.now())
    assert post(client, signup).json()["status"] == "ignored"  # the definitions are now cached
    define_metrics()  # saving drops the cached copy
    signup = event_body(event="signed_up", person="p1", moment=timezone.now())
    assert post(client, signup).json()["status"] == "counted"


@pytest.mark.django_db
def test_the_health_document_lists_every_event_the_destination_must_send():
    define_metrics()
    document = Client().get(URL).json()
    assert document["events"] == ["$pageview"]
    assert document["send_events"] == ["$pageview", "signed_up", "purchase"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_over_http_with_redeliveries_store_the_same_numbers(live_server):
    define_metrics()
    events = fixture_events(seed=11, count=240)
    rng = random.Random(12)
    bodies = [body for body, _worth in events]
    bodies += [body for body in bodies if rng.random() < 0.15]  # PostHog's redeliveries
    rng.shuffle(bodies)
    threads = 8
    work = [bodies[index::threads] for index in range(threads)]
    barrier = threading.Barrier(threads)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def deliver(mine: list[dict]) -> None:
        with requests.Session() as session:
            barrier.wait(timeout=30)
            for body in mine:
                response = session.post(
                    live_server.url + URL,
                    data=json.dumps(body),
                    headers={"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"},
                    timeout=30,
                )
                with lock:
                    answers.append((response.status_code, response.json().get("status", "")))

    workers = [threading.Thread(target=deliver, args=(mine,)) for mine in work]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    connection.close()
    assert len(answers) == len(bodies)
    assert {status for status, _ in answers} == {HTTPStatus.OK}
    counted = [body for body, _ in events if body["event"]["event"] != "$autocapture"]
    assert sum(1 for _, answer in answers if answer == "counted") == len(counted)
    assert_same(counted_values(), expected_numbers(events))
    stored = {m.week_start: (m.visitors, m.pageviews) for m in WeeklyMetric.objects.all()}
    assert {week: numbers for week, numbers in stored.items() if numbers != (0, 0)} == built_in_numbers(
        events
    )


@pytest.mark.django_db
def test_an_event_without_a_visitor_counts_where_no_person_is_needed():
    define_metrics()
    anonymous = event_body(event="signed_up", person="p1", moment=timezone.now())
    del anonymous["person"]
    anonymous["event"]["distinct_id"] = ""
    # signups (a count) needs no person: counted.
    assert post(Client(), anonymous).json()["metrics"] == ["signups", "free_signups"]
    planned = event_body(event="signed_up", person="p1", moment=timezone.now(), plan="pro")
    del planned["person"]
    planned["event"]["distinct_id"] = ""
    # With a plan it also matches `buyers`, a unique metric: refused, nothing written.
    response = post(Client(), planned)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.django_db
def test_a_delivery_only_user_metrics_count_moves_the_weeks_last_modified():
    define_metrics()
    now = timezone.now()
    post(Client(), event_body(event="$pageview", person="p1", moment=now))
    week = WeeklyMetric.objects.get()
    before = now - dt.timedelta(hours=1)
    WeeklyMetric.objects.filter(pk=week.pk).update(updated_at=before)

    answer = post(Client(), event_body(event="purchase", person="p2", moment=now, amount=5)).json()
    assert "revenue" in answer["metrics"]
    week.refresh_from_db()
    assert week.updated_at > before and (week.visitors, week.pageviews) == (1, 1)

    WeeklyMetric.objects.filter(pk=week.pk).update(updated_at=before)
    again = event_body(event="purchase", person="p2", moment=now, plan="team", amount="n/a")
    answer = post(Client(), again).json()
    week.refresh_from_db()
    # p2 already bought this week and "n/a" is no amount: only `buyers` (p2 now has a plan)
    # moved, a unique metric; that is enough to move the week's last-modified.
    assert answer["status"] == "counted" and answer["metrics"] == ["buyers"], answer
    assert week.updated_at > before

    # A redelivery (the very same body, same uuid, this week) changes nothing: it stays.
    WeeklyMetric.objects.filter(pk=week.pk).update(updated_at=before)
    assert post(Client(), again).json()["status"] == "duplicate"
    week.refresh_from_db()
    assert week.updated_at == before
