"""Issue 20 #19, the admin's details: the weekly list's pages, dates in one format, the
schedules in words, targets in their unit, the chart and headline of a new install."""

import re

import pytest

from metrics.core import weeks
from metrics.models import WeeklyMetric
from tests.support.admin import SYNC_URL

LIST_URL = "/admin/metrics/weeklymetric/"


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
    assert re.search(r'<td id="sync-schedule">Every 6 hours \(0 \*/6 \* \* \*\) ', page)
