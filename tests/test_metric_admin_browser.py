"""The metric admin in a real browser (Debian's Chromium via Playwright, the harness of
tests/test_admin_browser.py): the form's preview frame, the weekly list with eight metrics at
1280 px, and the chart's panels with a target line. PostHog is a `responses` mock (the live
server runs in this process). Screenshots go to test-artifacts/, or to VISITORSYNC_SHOTS_DIR."""

import json
import os
import re
from pathlib import Path

import pytest
import responses

from metrics import catalog
from metrics.admin.preview_query import preview_weeks
from metrics.core import weeks
from metrics.core.definitions import parse_definition
from metrics.models import Metric, MetricValue, WeeklyMetric
from tests.support.browser import ARTIFACTS, browser_marks, log_in_as_superuser
from tests.support.helpers import QUERY_URL

pytestmark = browser_marks
SHOTS = Path(os.environ.get("VISITORSYNC_SHOTS_DIR") or ARTIFACTS)

METRICS = [
    {"key": "signups", "name": "Signups", "kind": "count", "events": ["signed_up"], "target": 60},
    {"key": "activations", "name": "Activated accounts", "kind": "unique", "events": ["project_created"]},
    {"key": "revenue", "name": "Revenue", "kind": "sum", "events": ["purchase"], "property": "amount",
     "unit": "EUR", "target": 5000},
    {"key": "pro_buyers", "name": "Pro buyers", "kind": "unique", "events": ["purchase"],
     "properties": [{"key": "plan", "operator": "exact", "value": ["pro"]}]},
    {"key": "signup_rate", "name": "Signup rate", "kind": "ratio", "numerator": "signups",
     "denominator": "visitors"},
    {"key": "revenue_per_visitor", "name": "Revenue per visitor", "kind": "ratio", "numerator": "revenue",
     "denominator": "visitors", "unit": "EUR"},
]  # fmt: skip


def store_weeks(count: int) -> None:
    current = weeks.current_week_start()
    rows = {row.key: row for row in Metric.objects.all()}
    for age in range(count):
        week = current - weeks.ONE_WEEK * age
        visitors = 900 + 37 * ((count - age) % 7) + 20 * (count - age)
        WeeklyMetric.objects.create(week_start=week, visitors=visitors, pageviews=visitors * 3 + age)
        for key, value in (
            ("signups", 30 + (count - age) * 2 + age % 3),
            ("activations", 12 + (count - age) + age % 2),
            ("revenue", 2400.0 + 130.5 * (count - age) + 41.25 * (age % 4)),
            ("pro_buyers", 4 + (count - age) // 2),
        ):
            MetricValue.objects.create(metric=rows[key], week_start=week, value=value)


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_preview_list_and_chart_in_the_browser(live_server, browser_page):
    from playwright.sync_api import expect

    responses.add_passthru(live_server.url)
    first, _ = preview_weeks()
    rows = [[(first + weeks.ONE_WEEK * i).isoformat(), 10, 20, 2400.0 + 151.25 * i] for i in range(8)]
    responses.post(QUERY_URL, json={"results": rows, "hasMore": False})
    for raw in METRICS:
        catalog.save(parse_definition(raw))
    store_weeks(20)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser_page
    log_in_as_superuser(page, f"{live_server.url}/admin/metrics/metric/add/")

    page.fill("#id_key", "revenue_pro")
    page.fill("#id_name", "Revenue from Pro")
    page.select_option("#id_kind", "sum")
    page.fill("#id_events", "purchase, subscription_renewed")
    page.fill("#id_properties", json.dumps([{"key": "plan", "operator": "exact", "value": ["pro"]}]))
    page.fill("#id_sum_property", "amount")
    page.fill("#id_unit", "EUR")
    page.fill("#id_target", "3000")
    page.click("#metric-preview-button")
    frame = page.frame_locator("#vs-preview-frame")
    expect(frame.locator("#preview-table td")).to_have_count(8)
    expect(frame.locator("#preview-table td").first).to_have_text("€2,400.00")
    assert len(responses.calls) == 1 and not Metric.objects.filter(key="revenue_pro").exists()
    page.locator("#metric-preview").scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "metric-form-preview.png", full_page=True)
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    assert Metric.objects.filter(key="revenue_pro").exists()

    # Eight metrics in the list (two built-ins, six of ours, revenue_pro kept out of it).
    Metric.objects.filter(key="revenue_pro").update(in_admin_list=False)
    page.goto(f"{live_server.url}/admin/metrics/weeklymetric/")
    headers = page.locator("#result_list thead th")
    expect(page.locator("#result_list th.column-metric_revenue_per_visitor")).to_be_visible()
    assert page.locator('#result_list thead th[class*="column-metric_"]').count() == 6
    # Readable at 1280 px: nothing wider than the window, numbers right-aligned.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert page.locator("#nav-sidebar").is_visible()
    align = page.locator("#result_list td.field-metric_revenue").first.evaluate(
        "cell => getComputedStyle(cell).textAlign"
    )
    assert align == "right" and headers.count() >= 13
    # Every column shows beside the navigation: the table does not scroll sideways.
    results = page.evaluate(
        "() => [...['scrollWidth', 'clientWidth'].map(k => document.querySelector('.results')[k])]"
    )
    assert results[0] <= results[1], results
    page.locator("#result_list thead").evaluate("head => head.scrollIntoView({block: 'start'})")
    page.screenshot(path=SHOTS / "weekly-list-8-metrics.png")
    page.screenshot(path=SHOTS / "weekly-list-8-metrics-full.png", full_page=True)

    panel = page.locator("#metric-panel-revenue")
    expect(page.locator("#metric-target-revenue")).to_be_attached()
    panel.scroll_into_view_if_needed()
    page.locator("#weekly-chart").screenshot(path=SHOTS / "chart-with-target-lines.png")
    assert re.search(r"target €5,000\.00 per week", page.locator("#weekly-chart").inner_text())
