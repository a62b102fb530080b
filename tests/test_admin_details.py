"""Issue 20 #19, the admin's details: the weekly list's pages, dates in one format, the
schedules in words, targets in their unit, the chart and headline of a new install."""

import pytest

from metrics.core import weeks
from metrics.models import WeeklyMetric

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
