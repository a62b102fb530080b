"""Every place that shows a week's numbers, byte for byte, at a fixed moment.

A fixed set of weeks (gaps, a week without visitors, weeks never synced or synced before they
ended, webhook counts since a sync, a year of history) is read at a fixed "now" by the stats
API (JSON and CSV), the admin list (rows, headline figures, chart, CSV exports), the weekly
report (subject, text, HTML) and the cron endpoint's `report` JSON. With user-defined metrics
on top (`with_kpis`), the API and the report again (`*_metrics` files). The outputs are compared
with the files under tests/golden/; `VISITORSYNC_WRITE_GOLDEN=1` writes them instead.
"""

import datetime as dt
import json
import os
import re
from pathlib import Path

import pytest
from django.utils import timezone

from metrics import reports
from metrics.core import weeks
from metrics.models import WeeklyMetric
from metrics.presentation import report_json
from tests.support.kpis import define, store
from tests.support.stats_api import TOKEN

GOLDEN = Path(__file__).parent / "golden"
WRITE = os.environ.get("VISITORSYNC_WRITE_GOLDEN") == "1"
# A Thursday afternoon in Berlin: the current week is half gone.
NOW = dt.datetime(2026, 3, 12, 14, 30, tzinfo=dt.UTC)
LIST_URL = "/admin/metrics/weeklymetric/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen_now(monkeypatch):
    """Every `timezone.now()` (the code's and the database's auto_now) answers NOW."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


@pytest.fixture
def stored(frozen_now, settings):
    settings.VISITORSYNC_API_TOKENS = TOKEN
    settings.VISITORSYNC_BASE_URL = "https://metrics.example.test"
    current = weeks.current_week_start(now=frozen_now)
    rows = []
    for age in range(70):
        if age in (5, 9, 10, 61):  # gaps: a week, two weeks, and one a year back
            continue
        week = current - weeks.ONE_WEEK * age
        _, end = weeks.week_bounds(week)
        visitors = 0 if age == 20 else 900 + (age * 37) % 211 - (age % 3) * 40
        pageviews = visitors * 3 + (age * 11) % 17
        if age == 1:
            visitors = 700  # a drop from the week before
        if age == 3:
            visitors = rows[-1].visitors  # the same as the week after it: a 0% change
        synced_at = None if age in (2, 15, 16) else end + dt.timedelta(hours=age % 7)
        if age == 1:
            synced_at = end - dt.timedelta(days=1)  # synced before it ended: not confirmed
        if age == 0:
            synced_at = frozen_now - dt.timedelta(hours=2)
        posthog = (None, None) if synced_at is None else (visitors - age % 4, pageviews - age % 6)
        rows.append(
            WeeklyMetric(
                week_start=week,
                visitors=visitors,
                pageviews=pageviews,
                posthog_visitors=posthog[0],
                posthog_pageviews=posthog[1],
                synced_at=synced_at,
            )
        )
    return WeeklyMetric.objects.bulk_create(rows)


def check(name: str, output: str | bytes) -> None:
    # Markup is kept as .txt: recorded output, not templates to maintain.
    path = GOLDEN / (f"{name}.txt" if name.endswith(".html") else name)
    data = output.encode() if isinstance(output, str) else output
    if WRITE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_bytes(data)
        return
    assert data == path.read_bytes(), f"{name} differs from {path}"


def between(page: str, start: str, end: str) -> str:
    part = page[page.index(start) : page.index(end, page.index(start)) + len(end)]
    # "3 days ago": Django's timesince counts from the real clock, not timezone.now().
    part = re.sub(r"(<td class=\"field-last_synced\"><span title=\"[^\"]*\">)[^<]*", r"\1…", part)
    # Primary keys depend on the database's sequences (PostgreSQL does not reset them per test).
    part = re.sub(r'(name="_selected_action" value=")\d+', r"\1…", part)
    return re.sub(r"(/admin/metrics/weeklymetric/)\d+/", r"\1…/", part)


def test_stats_api_json_and_csv(client, stored):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for name, query in [
        ("api_all.json", ""),
        ("api_range.json", "?from=2025-03-03&to=2026-02-20"),
        ("api_all.csv", "?format=csv"),
        ("api_range.csv", "?format=csv&from=2025-11-10&to=2026-03-01"),
    ]:
        response = client.get(f"/api/stats/weekly{query}", headers=auth)
        check(name, response.content)
        check(f"{name}.headers", f"{response['Last-Modified']}\n{response['Content-Type']}\n")


def test_admin_list_rows_headline_and_chart(admin_client, stored):
    page = admin_client.get(LIST_URL).content.decode()
    check("admin_rows.html", between(page, '<table id="result_list">', "</table>"))
    check("admin_headline.html", between(page, '<div id="headline-figures">', '<div class="module vs-chart"'))
    check("admin_chart.html", between(page, '<div class="module vs-chart" id="weekly-chart">', "</ul>"))
    filtered = admin_client.get(LIST_URL, {"synced": "never"}).content.decode()
    check("admin_rows_never_synced.html", between(filtered, '<table id="result_list">', "</table>"))
    page_two = admin_client.get(LIST_URL, {"p": "2"}).content.decode()
    check("admin_rows_page_2.html", between(page_two, '<table id="result_list">', "</table>"))


def test_admin_csv_exports(admin_client, stored):
    exported = admin_client.get(f"{LIST_URL}export.csv", {"synced": "never"})
    check("admin_export_never_synced.csv", exported.content)
    check("admin_export_never_synced.csv.headers", exported["Content-Disposition"] + "\n")
    chosen = [m.pk for m in stored[10:30]]
    action = admin_client.post(LIST_URL, {"action": "export_selected_as_csv", "_selected_action": chosen})
    check("admin_export_selected.csv", action.content)


def test_weekly_report_mail_and_json(stored):
    for name, week in [("report", None), ("report_older", dt.date(2026, 1, 12))]:
        report = reports.build_report(week_start=week)
        message = reports.render_report(report, to="a@example.test")
        [(html, _)] = message.alternatives
        check(f"{name}.subject.txt", message.subject + "\n")
        check(f"{name}.txt", message.body)
        check(f"{name}.html", html)
        result = reports.ReportResult(report=report, sent=["a@example.test"], skipped=[], dry_run=False)
        check(f"{name}.json", json.dumps(report_json(result), indent=1) + "\n")


def test_drop_alert_message(stored, settings):
    from metrics.reports import alerts

    settings.VISITORSYNC_ALERT_DROP = 0.01
    conditions = {c.kind: c for c in alerts.conditions(now=NOW)}
    check("drop_alert.txt", re.sub(r"\s+", " ", conditions["drop"].message) + "\n")


@pytest.fixture
def with_kpis(stored):
    """The metrics of tests/support/kpis.py on the same weeks: some weeks without a row for a
    metric (0), sums whole and not, and the week without visitors (its ratio is null)."""
    define()
    for n, row in enumerate(stored):
        numbers = {"signups": (n * 7) % 45, "revenue": 4000 + n * 37.25 if n % 3 else 5000, "refunds": n % 5}
        if n % 4:
            numbers["pro_buyers"] = n % 6
        if n % 11 == 7:
            numbers = {}
        store(row.week_start, visitors=row.visitors, pageviews=row.pageviews, **numbers)


def test_user_metrics_in_the_api_and_the_report(client, with_kpis):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for name, query in [
        ("api_metrics.json", "?from=2025-09-01&to=2026-03-15"),
        ("api_metrics.csv", "?format=csv&from=2025-09-01&to=2026-03-15"),
    ]:
        check(name, client.get(f"/api/stats/weekly{query}", headers=auth).content)
    report = reports.build_report()
    message = reports.render_report(report, to="a@example.test")
    [(html, _)] = message.alternatives
    check("report_metrics.txt", message.body)
    check("report_metrics.html", html)
