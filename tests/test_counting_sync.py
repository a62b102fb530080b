"""Both paths count what the user's PostHog screens count: several events, a host filter,
PostHog's own "internal and test users" filter, and ranges too heavy for one query.

Against the PostHog stand-in (tests/support/posthog_stub.py), which reads the query's text the way
PostHog does and refuses what PostHog refuses.
"""

import datetime as dt
import html
import json
import random
import re

import pytest
from django.urls import reverse

from metrics import tracker
from metrics.core import weeks
from metrics.models import SyncRun, WeeklyMetric
from tests.support.helpers import stored_numbers
from tests.support.posthog_stub import Event, weekly_truth
from tests.support.webhook_payloads import pageview, post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("endpoint_secrets")]

SITE, STAGING, LOCAL = "example.com", "staging.example.com", "localhost:8000"
TEAM_DOMAIN = "@example-team.com"
TEST_ACCOUNT_FILTERS = [
    {"key": "email", "operator": "not_icontains", "value": TEAM_DOMAIN, "type": "person"},
    {"key": "$host", "operator": "not_regex", "value": r"^(localhost|127\.0\.0\.1)($|:)", "type": "event"},
]


def traffic(*, weeks_back: int, seed: int, per_week: int = 60) -> list[Event]:
    """Events from the site, its staging copy, localhost and a mobile app (no $host), of
    $pageview, $screen and another kind, from visitors some of whom are the team."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(weeks=weeks_back)
    events = []
    for index in range(weeks_back * per_week):
        moment = start + dt.timedelta(seconds=rng.randint(0, int((now - start).total_seconds()) - 60))
        host = rng.choice([SITE, SITE, SITE, STAGING, LOCAL, None])
        name = (
            "$screen" if host is None else rng.choice(["$pageview", "$pageview", "$pageview", "$autocapture"])
        )
        person = rng.randint(1, 40)
        email = f"person{person}{TEAM_DOMAIN}" if person <= 5 else f"person{person}@customer.test"
        events.append(Event(f"{seed}-{index}", name, f"person-{person}", moment, host, email))
    return events


def truth_of(events, settings, *, where) -> dict[dt.date, tuple[int, int]]:
    return weekly_truth(
        events,
        tz_name=settings.VISITORSYNC_TIMEZONE,
        mode=weeks.hogql_week_mode(),
        event=("$pageview", "$screen"),
        where=where,
    )


def site_or_no_host(event: Event) -> bool:
    return event.host is None or event.host == SITE


def not_a_test_account(event: Event) -> bool:
    return not (event.email or "").endswith(TEAM_DOMAIN) and not (event.host or "").startswith("localhost")


def expected_weeks(known: dict, first: dt.date) -> dict[dt.date, tuple[int, int]]:
    return {w: known.get(w, (0, 0)) for w in weeks.week_range(first, weeks.current_week_start())}


@pytest.fixture
def counting_settings(settings):
    settings.VISITORSYNC_EVENT = "$pageview,$screen"
    settings.VISITORSYNC_HOSTS = SITE
    settings.VISITORSYNC_BACKFILL_WEEKS = 6
    settings.VISITORSYNC_WEBHOOK_RETENTION_WEEKS = 8
    return settings


def test_the_sync_and_the_webhook_count_the_site_only_and_agree(counting_settings, stub_with, client):
    settings = counting_settings
    events = traffic(weeks_back=5, seed=3)
    stub = stub_with(events)
    first = weeks.current_week_start() - dt.timedelta(weeks=5)
    known = expected_weeks(truth_of(events, settings, where=site_or_no_host), first)
    assert any(v for v, _ in known.values())

    # The webhook alone: every delivery of every host, some delivered twice.
    rng = random.Random(4)
    for event in events:
        for _ in range(2 if rng.random() < 0.15 else 1):
            stamp = event.timestamp.isoformat().replace("+00:00", "Z")
            body = pageview(uuid=event.uuid, visitor=event.person_id, timestamp=stamp, event=event.event)
            if event.host:
                body["event"]["properties"]["$host"] = event.host
            answer = post(client, body)
            assert answer.status_code == 200, answer.content
    webhook_counts = {week: numbers for week, numbers in stored_numbers().items() if numbers != (0, 0)}
    assert webhook_counts == {week: numbers for week, numbers in known.items() if numbers != (0, 0)}

    # The sync: PostHog's answer is the same, so no number needs correcting: the weeks the
    # webhook created are only confirmed, which is no update and no listed change.
    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND, since=first))
    assert stored_numbers() == known
    assert all(c["created"] for c in run.changes) and run.weeks_updated == 0
    assert run.weeks_unchanged >= len(webhook_counts)
    sent = json.loads(stub.requests[-1]["body"])["query"]
    assert "values" not in sent and "filters" not in sent


def test_without_a_host_filter_every_host_counts(counting_settings, stub_with):
    counting_settings.VISITORSYNC_HOSTS = ""
    events = traffic(weeks_back=4, seed=5)
    stub_with(events)
    first = weeks.current_week_start() - dt.timedelta(weeks=4)
    tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND, since=first))
    assert stored_numbers() == expected_weeks(truth_of(events, counting_settings, where=None), first)


def test_the_test_account_filter_applies_the_projects_own_definition(counting_settings, stub_with):
    settings = counting_settings
    settings.VISITORSYNC_HOSTS = ""
    settings.VISITORSYNC_FILTER_TEST_ACCOUNTS = "true"
    events = traffic(weeks_back=4, seed=6)
    stub = stub_with(events, test_account_filters=TEST_ACCOUNT_FILTERS)
    first = weeks.current_week_start() - dt.timedelta(weeks=4)
    tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND, since=first))
    filtered = expected_weeks(truth_of(events, settings, where=not_a_test_account), first)
    unfiltered = expected_weeks(truth_of(events, settings, where=None), first)
    assert stored_numbers() == filtered != unfiltered
    sent = json.loads(stub.requests[-1]["body"])["query"]
    assert sent["filters"] == {"filterTestAccounts": True} and "{filters}" in sent["query"]
    assert "values" not in sent  # PostHog refuses values together with {filters}


def test_the_stand_in_refuses_values_with_filters_as_posthog_does(stub_with, settings):
    """So a client that sends both would fail here as it fails against PostHog."""
    import requests

    stub = stub_with([])
    answer = requests.post(
        f"{stub.url}/api/projects/{stub.project_id}/query/",
        json={
            "query": {
                "kind": "HogQLQuery",
                "query": "SELECT toStartOfWeek(toTimeZone(timestamp, 'UTC'), 3) AS week FROM events "
                "WHERE event = {event} AND {filters}",
                "values": {"event": "$pageview"},
                "filters": {"filterTestAccounts": True},
            }
        },
        headers={"Authorization": f"Bearer {stub.api_key}"},
        timeout=10,
    )
    assert answer.status_code == 400 and "{filters}" in answer.json()["detail"]


def test_a_heavy_range_splits_itself_and_the_numbers_stay_exact(stub_with, settings):
    """PostHog answers 512 to any range longer than 13 weeks: a 260-week sync still completes."""
    settings.VISITORSYNC_CHUNK_WEEKS = 52
    events = traffic(weeks_back=260, seed=7, per_week=4)
    stub = stub_with(events, max_weeks_per_query=13)
    first = weeks.current_week_start() - dt.timedelta(weeks=259)
    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND, since=first))
    known = weekly_truth(
        events, tz_name=settings.VISITORSYNC_TIMEZONE, mode=weeks.hogql_week_mode(), event="$pageview"
    )
    assert stored_numbers() == expected_weeks(known, first)
    assert run.status == SyncRun.Status.SUCCEEDED and run.chunk_weeks == 13
    # One refused 52-week range, one refused 26-week range (the waiting ranges are cut to the
    # new size at once), then 20 of 13 weeks.
    assert run.queries == stub.query_count == 22
    # The next sync starts from the size that worked: no query is refused. It did not split,
    # so it records no size of its own, and the memory ends 7 days after the split.
    again = tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND))
    assert again.queries == 20 and again.chunk_weeks is None
    SyncRun.objects.filter(pk=run.pk).update(finished_at=run.finished_at - dt.timedelta(days=8))
    assert tracker.ranges.starting_chunk_weeks() == 52


def test_a_single_week_too_heavy_fails_the_run_saying_what_to_change(stub_with, settings):
    stub = stub_with([], max_weeks_per_query=0)
    with pytest.raises(tracker.SyncFailed, match=r"Even one week .* is too heavy") as caught:
        tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND))
    assert "VISITORSYNC_EVENT" in str(caught.value)
    assert caught.value.run.status == SyncRun.Status.FAILED and WeeklyMetric.objects.count() == 0
    assert stub.query_count > 1  # it split down to one week before giving up


def test_overload_is_retried_not_split(stub_with, settings, no_sleep):
    stub = stub_with(traffic(weeks_back=3, seed=8))
    stub.fail_next(
        503, {"type": "server_error", "code": "error", "detail": "Queries are a little too busy right now."}
    )
    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND))
    assert run.status == SyncRun.Status.SUCCEEDED and run.queries == 2 and run.chunk_weeks is None
    assert len(no_sleep) == 1


def test_the_admin_shows_the_exact_query_a_sync_sends(counting_settings, stub_with, admin_client):
    counting_settings.VISITORSYNC_FILTER_TEST_ACCOUNTS = "true"
    stub = stub_with(traffic(weeks_back=2, seed=9), test_account_filters=TEST_ACCOUNT_FILTERS)
    page = admin_client.get(reverse("admin:metrics_weeklymetric_sync")).content.decode()
    shown = re.search(r'<pre id="posthog-query"[^>]*>(.*?)</pre>', page, re.S)
    shown_filters = re.search(r'<pre id="posthog-query-filters"[^>]*>(.*?)</pre>', page, re.S)
    assert shown and shown_filters, "the sync page shows the query and its filters"
    tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND))
    sent = json.loads(stub.requests[0]["body"])["query"]
    assert html.unescape(shown.group(1)) == sent["query"]
    assert json.loads(html.unescape(shown_filters.group(1))) == sent["filters"]


def test_a_504_from_a_proxy_is_retried_and_posthogs_own_504_splits(stub_with, settings, no_sleep):
    """A load balancer's 504 is not PostHog saying the query is too heavy."""
    stub = stub_with(traffic(weeks_back=3, seed=10))
    stub.fail_next(504, "<html><body>504 Gateway Time-out</body></html>")
    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND))
    assert run.status == SyncRun.Status.SUCCEEDED and run.queries == 2 and run.chunk_weeks is None
    stub.fail_next(
        504, {"type": "server_error", "code": "error", "detail": "Query has hit the max execution time"}
    )
    again = tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND))
    assert again.status == SyncRun.Status.SUCCEEDED and again.chunk_weeks == 6  # 12 weeks split in half


def test_the_webhook_refuses_while_what_counts_is_unreadable(client, settings):
    """Else the webhook would count every host while every sync refuses to run."""
    settings.VISITORSYNC_HOSTS = "https://example.com"
    answer = post(client, pageview(host="staging.example.com"))
    assert answer.status_code == 503 and "is not a host name" in answer.json()["error"]
    assert client.get("/api/webhooks/posthog").json()["accepting"] is False
    assert WeeklyMetric.objects.count() == 0
