"""Every metric's number as the read model, the stats API (JSON and CSV) and the admin's CSV
show it: built-ins from the week row, user-defined ones from MetricValue rows (none: 0),
ratios computed per week (null over a zero denominator), typed as docs/api.md says."""

import json
import re
from http import HTTPStatus
from pathlib import Path

import jsonschema
import pytest
from django.utils import timezone

from metrics import numbers
from metrics.core import weeks
from metrics.models import Metric, MetricValue, WeeklyMetric
from tests.support.kpis import define, store
from tests.support.stats_api import TOKEN, get, read_csv

pytestmark = pytest.mark.django_db
OPENAPI = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
ORDER = ["visitors", "pageviews", "signups", "pro_buyers", "revenue", "signup_rate", "refunds"]


@pytest.fixture
def tokens(settings):
    settings.VISITORSYNC_API_TOKENS = TOKEN
    return settings


@pytest.fixture
def three_weeks():
    """Three weeks before the current one: a full one, one without user numbers, one with
    no visitors (the ratio's denominator is 0)."""
    define()
    current = weeks.current_week_start()
    first, second, third = (current - weeks.ONE_WEEK * age for age in (3, 2, 1))
    store(first, visitors=1000, pageviews=3000, signups=30, pro_buyers=4, revenue=4999.5, refunds=2)
    store(second, visitors=800, pageviews=2400)  # no MetricValue row: every user metric is 0
    store(third, visitors=0, pageviews=5, signups=7, revenue=120.0)
    return first, second, third


def test_a_week_carries_every_metric_in_display_order_typed(three_weeks):
    first, _, third = three_weeks
    table = numbers.read_range(first, third)
    assert [d.key for d in table.definitions] == ORDER
    full, empty, no_visitors = (table.week(day) for day in three_weeks)
    assert list(full.metrics) == ORDER
    assert full.metrics == {
        "visitors": 1000, "pageviews": 3000, "signups": 30, "pro_buyers": 4, "revenue": 4999.5,
        "signup_rate": 0.03, "refunds": 2,
    }  # fmt: skip
    assert isinstance(full.metrics["signups"], int) and isinstance(full.metrics["revenue"], float)
    assert empty.metrics["signups"] == 0 and empty.metrics["revenue"] == 0
    assert empty.metrics["signup_rate"] == 0.0  # 0 signups over 800 visitors
    assert no_visitors.metrics["signup_rate"] is None  # over 0 visitors
    assert no_visitors.metrics["revenue"] == 120 and isinstance(no_visitors.metrics["revenue"], int)
    # The week before and the same week last year work for any metric, a ratio too.
    assert empty.previous("signups") == 30 and empty.change("signups") == -1.0
    assert empty.change("signup_rate") == pytest.approx(-1.0)
    assert no_visitors.change("signup_rate") is None and no_visitors.previous("signup_rate") == 0.0
    assert no_visitors.change("signups") is None  # from 0: no percentage
    assert full.last_year("signups") is None


def test_a_ratio_is_the_weeks_own_quotient_never_an_average():
    define()
    current = weeks.current_week_start()
    last_year = current - numbers.YEAR_BEFORE
    store(last_year, visitors=400, signups=20)
    store(current, visitors=1000, signups=10)
    week = numbers.read_range(current, current).week(current)
    assert week.value("signup_rate") == pytest.approx(0.01)
    assert week.last_year("signup_rate") == pytest.approx(0.05)
    assert week.change_from_last_year("signup_rate") == pytest.approx(-0.8)


def test_sums_are_rounded_to_six_places_and_webhook_counts_per_metric():
    define()
    current = weeks.current_week_start()
    store(current, visitors=10, revenue=0.1)
    revenue = Metric.objects.get(key="revenue")
    MetricValue.objects.filter(metric=revenue).update(value=0.1 + 0.2, posthog_value=0.1)
    # A metric defined after the week's last sync: only the webhook wrote its row.
    MetricValue.objects.create(week_start=current, metric=Metric.objects.get(key="signups"), value=3)
    week = numbers.read_range(current, current).week(current)
    assert week.value("revenue") == 0.3
    # Before the week's first sync nothing is "since the last sync", for any metric.
    assert [week.from_webhook(key) for key in ("visitors", "revenue", "signups")] == [None] * 3
    WeeklyMetric.objects.filter(week_start=current).update(
        synced_at=timezone.now(), posthog_visitors=8, posthog_pageviews=0
    )
    week = numbers.read_range(current, current).week(current)
    assert week.from_webhook("visitors") == 2
    assert week.from_webhook("revenue") == pytest.approx(0.2)
    assert week.from_webhook("signups") == 3  # the sync did not count it: all from the webhook
    assert week.from_webhook("refunds") == 0  # no row: 0, none of it from the webhook
    assert week.from_webhook("signup_rate") is None  # a ratio is computed, never counted


def test_api_json_has_every_metric_and_matches_the_openapi_document(client, tokens, three_weeks):
    response = get(client)
    assert response.status_code == HTTPStatus.OK
    items = response.json()["weeks"]
    assert [list(item["metrics"]) for item in items] == [ORDER] * 3
    assert [item["metrics"]["signup_rate"] for item in items] == [0.03, 0.0, None]
    assert [item["metrics"]["revenue"] for item in items] == [4999.5, 0, 120]
    assert [item["metrics"]["visitors"] for item in items] == [item["visitors"] for item in items]
    document = json.loads(OPENAPI.read_text())
    schema = {"$ref": "#/components/schemas/WeeklyStats", "components": document["components"]}
    jsonschema.validate(response.json(), schema)


def test_api_csv_has_a_column_per_user_metric_after_todays(client, tokens, three_weeks):
    response = get(client, "format=csv")
    header = response.content.decode().split("\r\n", 1)[0].split(",")
    assert header == [*numbers.COLUMNS, "signups", "pro_buyers", "revenue", "signup_rate", "refunds"]
    rows = read_csv(response)
    assert [row["signup_rate"] for row in rows] == ["0.03", "0.0", ""]
    assert [row["revenue"] for row in rows] == ["4999.5", "0", "120"]
    assert [row["signups"] for row in rows] == ["30", "0", "7"]


def test_csv_columns_follow_the_display_order(client, tokens, three_weeks):
    Metric.objects.filter(key="refunds").update(order=-1)
    header = get(client, "format=csv").content.decode().split("\r\n", 1)[0].split(",")
    assert header[len(numbers.COLUMNS) :] == ["refunds", "signups", "pro_buyers", "revenue", "signup_rate"]


def test_an_empty_answer_still_names_every_metric_column(client, tokens):
    define()
    assert get(client, "format=csv").content.decode() == (
        ",".join([*numbers.COLUMNS, "signups", "pro_buyers", "revenue", "signup_rate", "refunds"]) + "\r\n"
    )


def test_admin_csv_export_stays_byte_equal_to_the_apis(admin_client, client, tokens, three_weeks):
    first, _, third = three_weeks
    exported = admin_client.get("/admin/metrics/weeklymetric/export.csv")
    assert exported.status_code == HTTPStatus.OK
    assert exported.content == get(client, f"format=csv&from={first}&to={third}").content


def test_admin_csv_export_reads_the_definitions_once(admin_client, three_weeks, django_assert_num_queries):
    admin_client.get("/admin/metrics/weeklymetric/export.csv")  # the session is warm
    # session, user, the definitions (once, for the list and the file), the changelist's two
    # counts, the weeks, the weeks around them, the MetricValue rows
    with django_assert_num_queries(8):
        assert admin_client.get("/admin/metrics/weeklymetric/export.csv").status_code == HTTPStatus.OK


@pytest.mark.parametrize("count", [3, 60])
def test_query_count_does_not_grow_with_weeks_or_metrics(client, tokens, django_assert_num_queries, count):
    define()
    current = weeks.current_week_start()
    for age in range(count):
        store(current - weeks.ONE_WEEK * age, visitors=100 + age, signups=age, revenue=age * 1.5)
    # the weeks, the weeks around them, the definitions, the MetricValue rows
    with django_assert_num_queries(4):
        assert len(get(client).json()["weeks"]) == count
    with django_assert_num_queries(4):
        assert len(read_csv(get(client, "format=csv"))) == count


def test_headline_figures_of_any_metric_in_its_unit_and_a_ratio_never_prorated():
    define()
    current = weeks.current_week_start()
    last = current - weeks.ONE_WEEK
    store(last, visitors=1000, signups=40, revenue=5000)
    store(current, visitors=600, signups=30, revenue=1250.5)
    start, end = weeks.week_bounds(current)
    now = start + (end - start) / 2  # half of this week gone
    figures = {
        (f.key, f.label.split(", ")[1]): f
        for f in numbers.headline(now=now, keys=["visitors", "revenue", "signup_rate"]).figures
    }
    assert [key for key, when in figures if when == "last week"] == ["visitors", "revenue", "signup_rate"]
    revenue = figures["revenue", "this week so far"]
    assert revenue.label == "Revenue, this week so far" and revenue.value_text == "€1,250.50"
    assert revenue.compared_with == pytest.approx(2500)  # half of last week's total
    assert revenue.compared_label == "last week's total prorated to this point (≈€2,500.00)"
    rate = figures["signup_rate", "this week so far"]
    assert rate.value == pytest.approx(0.05) and rate.compared_with == pytest.approx(0.04)  # as it was
    assert rate.compared_label == "last week (4.0%)" and rate.change == pytest.approx(0.25)
    assert figures["visitors", "last week"].compared_label == ""  # the week before is not stored
    assert [f.key for f in numbers.headline(now=now).figures] == ["visitors", "pageviews"] * 2


def test_headline_colours_a_change_by_what_it_means_not_its_sign(admin_client):
    """A rise of a lower-is-better metric (refunds) is bad news: red, though the arrow is up."""
    define()
    last = weeks.current_week_start() - weeks.ONE_WEEK
    store(last - weeks.ONE_WEEK, visitors=100, signups=10, refunds=2)
    store(last, visitors=150, signups=5, refunds=4)
    figures = {f.key: f for f in numbers.headline(keys=["visitors", "signups", "refunds"]).figures}
    assert figures["refunds"].change > 0 and figures["refunds"].change_class == "vs-down"
    assert figures["visitors"].change > 0 and figures["visitors"].change_class == "vs-up"
    assert figures["signups"].change < 0 and figures["signups"].change_class == "vs-down"
    page = admin_client.get("/admin/metrics/weeklymetric/").content.decode()
    refunds = re.search(r"<h3>Refunds, last week</h3>.*?<p>(.*?)</p>", page, re.S).group(1)
    assert refunds.startswith('<span class="vs-down">▲ +100.0%</span>'), refunds
