"""The sync counts user-defined metrics (count, unique, sum) in the same grouped query as the
built-ins, and stores exactly the numbers this test computes from the fixture events itself.

Against the PostHog stand-in, which evaluates the query's countIf/uniqExactIf/sumIf columns
over its events and refuses a function PostHog does not list, or a wrong argument count.
"""

import datetime as dt
import json
import math
import random
import re

import pytest
import requests
from django.db.models import F

from metrics import catalog, tracker
from metrics.core import weeks
from metrics.core.errors import PostHogBadResponse
from metrics.models import MetricValue, SyncRun
from metrics.posthog import PostHogClient, QueriedMetric
from metrics.posthog.query import read_weekly_counts
from tests.support.helpers import stored_numbers
from tests.support.kpis import stored_values
from tests.support.metric_files import EVERY_OPERATOR as METRICS
from tests.support.posthog_stub import Event, week_start, weekly_truth

pytestmark = pytest.mark.django_db

SITE, STAGING = "example.com", "staging.example.com"
WEEKS_BACK = 6
AMOUNTS = [12.5, "7.25", None, True, "", "n/a", 3, "10", False, 0.1]  # None: no `amount` at all
PLANS = ["pro", "team", "free", None, "Pro"]  # None: no `plan` at all


def fixture_events(*, seed: int) -> list[Event]:
    """Pageviews, signups and purchases over the last WEEKS_BACK weeks, on the site, on its
    staging copy (filtered out) and without a host (counted), with every amount and plan kind."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(weeks=WEEKS_BACK)
    events = []
    for index in range(WEEKS_BACK * 50):
        moment = start + dt.timedelta(seconds=rng.randint(0, int((now - start).total_seconds()) - 60))
        name = rng.choice(["$pageview", "$pageview", "signed_up", "purchase", "purchase"])
        properties = {}
        plan = rng.choice(PLANS)
        if plan is not None and name != "$pageview":
            properties["plan"] = plan
        if name == "purchase":
            amount = AMOUNTS[index % len(AMOUNTS)]
            if amount is not None:
                properties["amount"] = amount
        host = rng.choice([SITE, SITE, STAGING, None])
        events.append(
            Event(f"{seed}-{index}", name, f"person-{rng.randint(1, 25)}", moment, host, None, properties)
        )
    return events


# --- The expected numbers, computed here from the events (not through the app's code) -------
def text(value):
    """HogQL's text of a JSON property value: None where missing."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def number(value):
    """What a sum adds: a JSON number, or a string that is wholly a number; else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return float(value) if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", value) else None


CONDITIONS = {
    "signups": (("signed_up",), lambda p: True),
    "pro_buyers": (("purchase",), lambda p: text(p.get("plan")) == "pro"),
    "revenue": (("purchase",), lambda p: True),
    "paid_signups": (("signed_up",), lambda p: text(p.get("plan")) != "free"),
    "team_purchases": (("purchase",), lambda p: "tea" in (text(p.get("plan")) or "").lower()),
    "non_team_buyers": (("purchase",), lambda p: "tea" not in (text(p.get("plan")) or "").lower()),
    "planned_signups": (("signed_up",), lambda p: "plan" in p),
    "planless_actions": (("signed_up", "purchase"), lambda p: "plan" not in p),
    "pro_revenue": (("purchase",), lambda p: text(p.get("plan")) in ("pro", "team")),
    "visits": (("$pageview",), lambda p: True),
}
KINDS = {item["key"]: item["kind"] for item in METRICS["metrics"]}


def expected(events, settings, first: dt.date) -> dict[tuple[dt.date, str], float]:
    result = {
        (week, key): 0.0 for week in weeks.week_range(first, weeks.current_week_start()) for key in CONDITIONS
    }
    persons: dict[tuple[dt.date, str], set] = {}
    for event in events:
        if event.host not in (SITE, None):
            continue
        week = week_start(
            event.timestamp, tz_name=settings.VISITORSYNC_TIMEZONE, mode=weeks.hogql_week_mode()
        )
        if week < first:
            continue
        for key, (names, condition) in CONDITIONS.items():
            if event.event not in names or not condition(event.properties):
                continue
            if KINDS[key] == "count":
                result[(week, key)] += 1
            elif KINDS[key] == "unique":
                persons.setdefault((week, key), set()).add(event.person_id)
            elif (amount := number(event.properties.get("amount"))) is not None:
                result[(week, key)] += amount
    for slot, members in persons.items():
        result[slot] = float(len(members))
    return result


def assert_equal_numbers(stored: dict, wanted: dict) -> None:
    assert set(stored) == set(wanted)
    for slot, value in wanted.items():
        live, posthog = stored[slot]
        assert math.isclose(live, value, rel_tol=1e-9, abs_tol=1e-12), (slot, live, value)
        assert math.isclose(posthog, value, rel_tol=1e-9, abs_tol=1e-12), (slot, posthog, value)


@pytest.fixture
def metric_settings(settings):
    settings.VISITORSYNC_EVENT = "$pageview"
    settings.VISITORSYNC_HOSTS = SITE
    settings.VISITORSYNC_BACKFILL_WEEKS = WEEKS_BACK + 1
    return settings


def sync(first: dt.date | None = None, **options) -> SyncRun:
    return tracker.sync_all_metrics(
        tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND, since=first, **options)
    )


def first_week() -> dt.date:
    return weeks.current_week_start() - dt.timedelta(weeks=WEEKS_BACK)


# --- Tests ------------------------------------------------------------------------------------
def test_the_sync_stores_every_metric_as_computed_from_the_events(metric_settings, stub_with):
    events = fixture_events(seed=11)
    stub = stub_with(events)
    catalog.import_document(METRICS, dry_run=False)
    first = first_week()
    wanted = expected(events, metric_settings, first)
    # Every operator and every amount kind matters somewhere in the fixture.
    assert all(
        any(wanted[(w, key)] for w in weeks.week_range(first, weeks.current_week_start()))
        for key in CONDITIONS
    )

    run = sync(first)

    assert run.queries == 1 and stub.query_count == 1
    assert_equal_numbers(stored_values(), wanted)
    # The built-ins are what they were without user metrics.
    truth = weekly_truth(
        events,
        tz_name=metric_settings.VISITORSYNC_TIMEZONE,
        mode=weeks.hogql_week_mode(),
        event="$pageview",
        where=lambda e: e.host in (SITE, None),
    )
    assert stored_numbers() == {
        w: truth.get(w, (0, 0)) for w in weeks.week_range(first, weeks.current_week_start())
    }
    query = json.loads(stub.requests[0]["body"])["query"]["query"]
    amount = "toFloat(properties.amount)"
    assert f"sumIf({amount}, event IN ('purchase') AND isFinite({amount})) AS m_" in query
    assert "WHERE event IN ('$pageview', 'signed_up', 'purchase')" in query

    # A second sync finds nothing to change.
    again = sync(first)
    assert again.changes == [] and again.weeks_updated == 0 and again.weeks_created == 0
    assert_equal_numbers(stored_values(), wanted)


def test_a_week_whose_only_change_is_a_metric_is_updated_and_listed(metric_settings, stub_with):
    events = fixture_events(seed=12)
    stub_with(events)
    catalog.import_document(METRICS, dry_run=False)
    first = first_week()
    sync(first)
    wanted = expected(events, metric_settings, first)
    week = max(w for (w, key), v in wanted.items() if key == "signups" and v)
    row = MetricValue.objects.get(metric__key="signups", week_start=week)
    MetricValue.objects.filter(pk=row.pk).update(value=row.value + 5)
    revenue = MetricValue.objects.get(metric__key="revenue", week_start=week)
    # A sum that differs only in the last bits (another order of additions) is not a change.
    MetricValue.objects.filter(pk=revenue.pk).update(value=revenue.value * (1 + 1e-12))

    dry = sync(first, dry_run=True)
    assert MetricValue.objects.get(pk=row.pk).value == row.value + 5  # a dry run writes nothing
    run = sync(first)

    count = int(wanted[(week, "signups")])
    expected_change = {
        "week": week.isoformat(),
        "created": False,
        "visitors": list(stored_numbers()[week][:1]) * 2,
        "pageviews": list(stored_numbers()[week][1:]) * 2,
        "metrics": {"signups": [count + 5, count]},
    }
    assert dry.changes == [expected_change] and run.changes == [expected_change]
    assert (run.weeks_updated, run.weeks_created) == (1, 0)
    assert MetricValue.objects.get(pk=row.pk).value == count
    assert_equal_numbers(stored_values(), wanted)


class WebhookDuringQuery(PostHogClient):
    """A client during whose query a webhook counts one more signup in each of `weeks_hit`
    (creating the row where there is none, as the webhook does)."""

    def __init__(self, *, metric_id: int, weeks_hit: list[dt.date]) -> None:
        super().__init__()
        self.metric_id, self.weeks_hit = metric_id, weeks_hit

    def weekly_counts(self, **kwargs):
        for week in self.weeks_hit:
            rows = MetricValue.objects.filter(metric_id=self.metric_id, week_start=week)
            if not rows.update(value=F("value") + 1):
                MetricValue.objects.create(metric_id=self.metric_id, week_start=week, value=1)
        return super().weekly_counts(**kwargs)


def test_webhook_increments_during_the_query_are_kept(metric_settings, stub_with):
    """The previous week's row exists (counted by the webhook before the sync: the UPDATE
    path); the current week's row is created by the webhook during the query (the sync's
    INSERT loses the race and updates it from zero)."""
    events = fixture_events(seed=13)
    stub_with(events)
    catalog.import_document(METRICS, dry_run=False)
    first = first_week()
    wanted = expected(events, metric_settings, first)
    signups = next(item.id for item in catalog.counted() if item.definition.key == "signups")
    current = weeks.current_week_start()
    previous = current - dt.timedelta(weeks=1)
    MetricValue.objects.create(metric_id=signups, week_start=previous, value=1)

    client = WebhookDuringQuery(metric_id=signups, weeks_hit=[previous, current])
    sync(first, client=client)

    for week in (previous, current):
        row = MetricValue.objects.get(metric_id=signups, week_start=week)
        assert (row.value, row.posthog_value) == (wanted[(week, "signups")] + 1, wanted[(week, "signups")])


def test_260_weeks_with_ten_metrics_spend_as_many_queries_as_the_built_ins(metric_settings, stub_with):
    metric_settings.VISITORSYNC_BACKFILL_WEEKS = 260
    events = fixture_events(seed=14)
    stub = stub_with(events)
    built_ins_only = sync()
    assert built_ins_only.weeks_checked == 260
    catalog.import_document(METRICS, dry_run=False)
    assert len(catalog.counted()) == 10
    with_metrics = sync()
    chunks = math.ceil(260 / metric_settings.VISITORSYNC_CHUNK_WEEKS)
    assert built_ins_only.queries == with_metrics.queries == chunks
    assert stub.query_count == 2 * chunks
    assert MetricValue.objects.count() == 260 * 10


def test_the_standin_refuses_what_posthog_refuses(stub_with):
    moment = dt.datetime(2025, 1, 7, 12, tzinfo=dt.UTC)
    stub = stub_with([Event("e1", "purchase", "p1", moment, None, None, {"amount": "n/a"})])

    def ask(hogql: str) -> requests.Response:
        return requests.post(
            f"{stub.url}/api/projects/{stub.project_id}/query/",
            json={"query": {"kind": "HogQLQuery", "query": hogql}},
            headers={"Authorization": f"Bearer {stub.api_key}"},
            timeout=5,
        )

    def query(column: str) -> str:
        return (
            "SELECT toStartOfWeek(toTimeZone(timestamp, 'UTC'), 3) AS week,\n"
            f"    {column} AS m_1\n"
            "FROM events\n"
            "WHERE event IN ('purchase')\n"
            "    AND timestamp >= toDateTime('2025-01-06T00:00:00Z')\n"
            "    AND timestamp < toDateTime('2025-01-13T00:00:00Z')\n"
            "GROUP BY week ORDER BY week LIMIT 1000"
        )

    for column, detail in [
        ("countIff(event IN ('purchase'))", "Unsupported function call 'countIff(...)'"),
        ("countif(event IN ('purchase'))", "Unsupported function call 'countif(...)'"),
        ("sumIf(toFloatOrNull(properties.amount), 1 = 1)", "Unsupported function call 'toFloatOrNull(...)'"),
        ("sumIf(toFloat(properties.amount))", "Aggregation 'sumIf' expects 2 arguments, found 1"),
        ("uniqExactIf(person_id)", "Aggregation 'uniqExactIf' expects at least 2 arguments, found 1"),
        ("countIf(isFinite(1, 2))", "Function 'isFinite' expects 1 argument, found 2"),
    ]:
        answer = ask(query(column))
        assert answer.status_code == 400, column
        assert answer.json()["detail"] == detail
    # PostHog finds `count` in any case, and these are all listed.
    assert ask(query("COUNT()")).json()["results"] == [["2025-01-06", 1]]
    # As ClickHouse: a sum of Nullable values where nothing was added is NULL.
    summed = ask(query("sumIf(toFloat(properties.amount), isFinite(toFloat(properties.amount)))"))
    assert summed.json()["results"] == [["2025-01-06", None]]


def metric(id: int, kind: str) -> QueriedMetric:
    from metrics.core.definitions import parse_definition

    body = {"key": f"m{id}", "name": "M", "kind": kind, "events": ["x"]}
    return QueriedMetric(id, parse_definition(body | ({"property": "amount"} if kind == "sum" else {})))


@pytest.mark.parametrize(
    ("value", "kind", "read"),
    [(3, "count", 3.0), (2.5, "sum", 2.5), (4, "sum", 4.0), (None, "sum", 0.0)],
)
def test_a_metric_column_is_read(value, kind, read):
    week = weeks.current_week_start()
    body = {"results": [[week.isoformat(), 1, 2, value]], "hasMore": False}
    counts = read_weekly_counts(body, first_week=week, last_week=week, metrics=[metric(7, kind)])
    assert counts.for_week(week).values == {7: read}
    assert counts.for_week(week - dt.timedelta(weeks=1)).values == {7: 0.0}


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (2.5, "count"),
        (True, "count"),
        ("3", "count"),
        (None, "count"),
        ("2.5", "sum"),
        (True, "sum"),
        (float("nan"), "sum"),
    ],
)
def test_a_metric_column_that_is_not_a_number_is_refused(value, kind):
    week = weeks.current_week_start()
    body = {"results": [[week.isoformat(), 1, 2, value]], "hasMore": False}
    with pytest.raises(PostHogBadResponse, match="nothing was stored"):
        read_weekly_counts(body, first_week=week, last_week=week, metrics=[metric(7, kind)])
    with pytest.raises(PostHogBadResponse, match="malformed row"):
        read_weekly_counts(body, first_week=week, last_week=week)


def test_the_query_with_metrics_reads_as_written(metric_settings, stub_with):
    """The exact text PostHog gets (and the sync page shows) with two metrics, the host filter
    and the project's test-account filters; the built-ins count only their own events."""
    from metrics.core.counting import HostPattern
    from metrics.core.definitions import parse_definition
    from metrics.posthog import weekly_counts_query

    signups = parse_definition(
        {
            "key": "s",
            "name": "S",
            "kind": "count",
            "events": ["signed_up"],
            "properties": [{"key": "plan", "operator": "icontains", "value": ["pro", "te'am"]}],
        }
    )
    revenue = parse_definition(
        {
            "key": "r",
            "name": "R",
            "kind": "sum",
            "events": ["purchase", "signed_up"],
            "property": "net amount",
            "properties": [{"key": "plan", "operator": "is_not_set"}],
        }
    )
    query = weekly_counts_query(
        week_mode=3,
        tz_name="UTC",
        events=("$pageview",),
        hosts=(HostPattern(SITE, subdomains=False),),
        filter_test_accounts=True,
        start=dt.datetime(2025, 1, 6, tzinfo=dt.UTC),
        end=dt.datetime(2025, 1, 13, tzinfo=dt.UTC),
        metrics=[QueriedMetric(4, signups), QueriedMetric(9, revenue)],
    )
    amount = "toFloat(properties['net amount'])"
    assert query == {
        "kind": "HogQLQuery",
        "query": (
            "SELECT toStartOfWeek(toTimeZone(timestamp, 'UTC'), 3) AS week,\n"
            "    uniqExactIf(person_id, event IN ('$pageview')) AS visitors,\n"
            "    countIf(event IN ('$pageview')) AS pageviews,\n"
            "    countIf(event IN ('signed_up') AND (toString(properties.plan) ILIKE '%pro%'"
            " OR toString(properties.plan) ILIKE '%te\\'am%')) AS m_4,\n"
            f"    sumIf({amount}, event IN ('purchase', 'signed_up') AND properties.plan IS NULL"
            f" AND isFinite({amount})) AS m_9\n"
            "FROM events\n"
            "WHERE event IN ('$pageview', 'signed_up', 'purchase')\n"
            "    AND timestamp >= toDateTime('2025-01-06T00:00:00Z')\n"
            "    AND timestamp < toDateTime('2025-01-13T00:00:00Z')\n"
            "    AND (coalesce(properties.$host, '') = '' OR lower(properties.$host) IN ('example.com'))\n"
            "    AND {filters}\n"
            "GROUP BY week ORDER BY week LIMIT 1000"
        ),
        "filters": {"filterTestAccounts": True},
    }
    # The stand-in (PostHog's function list) takes it.
    stub = stub_with([])
    answer = requests.post(
        f"{stub.url}/api/projects/{stub.project_id}/query/",
        json={"query": query},
        headers={"Authorization": f"Bearer {stub.api_key}"},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["columns"] == ["week", "visitors", "pageviews", "m_4", "m_9"]


def test_the_sync_page_shows_the_query_with_the_metrics(metric_settings, stub_with):
    stub_with([])
    catalog.import_document(METRICS, dry_run=False)
    planned = tracker.next_sync_query().query["query"]
    ids = [item.id for item in catalog.counted()]
    assert [f"AS m_{id}" in planned for id in ids] == [True] * 10
    assert "signup_rate" not in planned and "ratio" not in planned


def test_a_new_or_changed_metric_is_pending_until_a_sync_of_every_week(metric_settings, stub_with):
    stub_with(fixture_events(seed=14))
    first = first_week()
    sync(first)  # the weeks exist before the metrics do
    catalog.import_document(METRICS, dry_run=False)
    assert set(catalog.pending_restatement()) == {m["key"] for m in METRICS["metrics"]} - {"signup_rate"}

    sync(first, dry_run=True)
    tracker.sync_weeks(
        tracker.SyncOptions(trigger=SyncRun.Trigger.ADMIN_ACTION), week_starts=[weeks.current_week_start()]
    )
    sync(first + weeks.ONE_WEEK)  # `since` a later week leaves the first one as it was
    assert "signups" in catalog.pending_restatement()

    sync(first)
    assert catalog.pending_restatement() == ()
