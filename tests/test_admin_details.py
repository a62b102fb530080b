"""Issue 20 #19, the admin's details: the weekly list's pages, dates in one format, the
schedules in words, targets in their unit, the chart and headline of a new install."""

import re

import pytest

from metrics.core import weeks
from metrics.models import Metric, SyncRun, WeeklyMetric
from tests.support.admin import SYNC_URL
from tests.support.kpis import define

LIST_URL = "/admin/metrics/weeklymetric/"
METRICS_URL = "/admin/metrics/metric/"


def make_weeks(count: int) -> None:
    current = weeks.current_week_start()
    WeeklyMetric.objects.bulk_create(
        WeeklyMetric(week_start=current - weeks.ONE_WEEK * i, visitors=100 + i, pageviews=300)
        for i in range(count)
    )


@pytest.mark.parametrize(("count", "pages", "on_last"), [(53, 1, 53), (60, 1, 60), (106, 2, 54)])
def test_a_few_last_weeks_join_the_page_before(admin_client, count, pages, on_last):
    make_weeks(count)
    first = admin_client.get(LIST_URL)
    assert first.context["cl"].paginator.num_pages == pages
    last = admin_client.get(LIST_URL, {"p": pages})
    assert last.content.count(b'class="field-week"') == on_last


def test_the_schedules_are_in_words_on_the_sync_page(admin_client, settings):
    settings.VISITORSYNC_REPORT_SCHEDULE = "30 6 * * 1"
    settings.VISITORSYNC_CRON_SCHEDULE = "0 */6 * * *"
    page = admin_client.get(SYNC_URL).content.decode()
    report = re.search(r"<code>VISITORSYNC_REPORT_SCHEDULE</code></th><td>(.*?)</td>", page).group(1)
    assert report == "Mondays at 06:30 (30 6 * * 1)"
    assert re.search(
        r'<td id="sync-schedule" title="VISITORSYNC_CRON_SCHEDULE[^"]*">'
        r"Every 6 hours \(0 \*/6 \* \* \*\)</td>",
        page,
    )


@pytest.fixture
def watched(db):
    define(
        {"key": "revenue", "name": "Revenue", "kind": "sum", "events": ["purchase"], "property": "amount",
         "unit": "EUR", "target": 1500, "drop_alert": 0.5, "order": 1},
        {"key": "signups", "name": "Signups", "kind": "count", "events": ["signed_up"], "target": 5,
         "better": "lower", "order": 2},
        {"key": "plain", "name": "Plain", "kind": "count", "events": ["x"], "order": 3},
    )  # fmt: skip


def test_targets_are_in_the_metrics_unit_and_built_ins_name_their_events(admin_client, watched, settings):
    settings.VISITORSYNC_EVENT = "$pageview"
    page = admin_client.get(METRICS_URL).content.decode()
    targets = dict(
        re.findall(
            r'<a href="[^"]*">(\w+)</a></th>.*?<td class="field-target_display">(.*?)</td>', page, re.S
        )
    )
    assert targets["revenue"] == "€1,500.00, higher is better"
    assert targets["signups"] == "5, lower is better" and targets["plain"] == "-"
    assert "1500.0" not in page and "5.0<" not in page
    assert re.search(
        r'<td class="field-events_text">\$pageview <span[^>]*>\(VISITORSYNC_EVENT\)</span>', page
    )
    form = admin_client.get(f"{METRICS_URL}{Metric.objects.get(key='revenue').pk}/change/").content.decode()
    assert 'name="target" value="1500"' in form and "Now €1,500.00, higher is better." in form


def test_the_reports_panel_lists_each_watched_metric(admin_client, watched):
    page = admin_client.get(SYNC_URL).content.decode()
    lines = dict(re.findall(r"<tr><th scope=\"row\"><code>(.*?)</code></th><td>(.*?)</td></tr>", page))
    assert lines["Revenue"] == "drop alert 50%; target €1,500.00 per week, higher is better"
    assert lines["Signups"] == "target 5 per week, lower is better"
    assert "Plain" not in lines


def test_one_week_is_not_a_chart_and_the_headline_skips_a_week_with_no_data(admin_client):
    # A fresh install with the webhook's current week only.
    WeeklyMetric.objects.create(week_start=weeks.current_week_start(), visitors=5, pageviews=9)
    page = admin_client.get(LIST_URL).content.decode()
    chart = page.split('id="weekly-chart"')[1]
    assert "<svg" not in chart.split("</div>")[0]
    assert "The chart appears once two weeks are stored; " in chart
    note = re.search(r'<p class="vs-headline-note">(.*?)</p>', page, re.S).group(1)
    assert note.startswith("This week:") and "last week" not in note.lower()
    assert "last week" not in " ".join(re.findall(r"<h3>(.*?)</h3>", page)).lower()


def test_two_weeks_are_a_chart_and_the_headline_names_both(admin_client):
    current = weeks.current_week_start()
    WeeklyMetric.objects.create(week_start=current, visitors=5, pageviews=9)
    WeeklyMetric.objects.create(week_start=current - weeks.ONE_WEEK, visitors=50, pageviews=90)
    page = admin_client.get(LIST_URL).content.decode()
    assert "<svg" in page.split('id="weekly-chart"')[1] and "The chart appears once" not in page
    note = re.search(r'<p class="vs-headline-note">(.*?)</p>', page, re.S).group(1)
    assert note.startswith("Last week:") and "This week:" in note and "the same point of last week" in note


# Django's English DATE_FORMAT ("N j, Y"): "Dec. 6, 2026", "May 4, 2026" (the week column's
# own "Nov 30 to Dec 6, 2026" is a range of days, written its own way).
MONTH_NAME_DATE = re.compile(r"\b((Jan|Feb|Aug|Sept|Oct|Nov|Dec)\.|March|April|May|June|July) \d{1,2}, \d{4}")


def visible_text(page: str) -> str:
    """The page's text as read: no scripts, no queries (pre), no tags (titles and attributes left out)."""
    page = re.sub(r"<(script|style|svg|pre)\b.*?</\1>", "", page, flags=re.S)
    return re.sub(r"<[^>]+>", " ", page)


def test_every_page_writes_moments_one_way(admin_client, posthog_stub):
    admin_client.post(SYNC_URL)  # a sync: runs, weeks with their times
    run = SyncRun.objects.get()
    week = WeeklyMetric.objects.order_by("-week_start").first()
    for url in (
        SYNC_URL,
        LIST_URL,
        f"{LIST_URL}{week.pk}/change/",
        "/admin/metrics/syncrun/",
        f"/admin/metrics/syncrun/{run.pk}/change/",
    ):
        page = admin_client.get(url).content.decode()
        text = visible_text(page)
        assert not re.search(r"\b[ap]\.m\.|\bmidnight\b|\bnoon\b", text), url
        assert not MONTH_NAME_DATE.search(text), (url, MONTH_NAME_DATE.search(text))
        seconds = re.search(r"\d{2}:\d{2}:\d{2}", text)
        assert not seconds, (url, seconds and text[max(seconds.start() - 80, 0) : seconds.end() + 20])
        moment = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}\b"
        # The weekly list says "just now", with the moment as the title.
        assert re.search(
            moment, text if url != LIST_URL else " ".join(re.findall(r'title="([^"]*)"', page))
        ), url
