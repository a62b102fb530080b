"""The weekly list's CSV exports, its comparison with last year, headline figures and title."""

import datetime as dt
import re
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from metrics import numbers
from metrics.core import weeks
from metrics.models import WeeklyMetric
from tests.support.stats_api import TOKEN, read_csv, seed_weeks

LIST_URL = "/admin/metrics/weeklymetric/"
EXPORT_URL = "/admin/metrics/weeklymetric/export.csv"

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(settings):
    settings.VISITORSYNC_API_TOKENS = TOKEN
    return settings


def api_csv(client, query: str) -> bytes:
    response = client.get(
        f"/api/stats/weekly?format=csv&{query}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == HTTPStatus.OK
    return response.content


def test_export_url_is_named():
    assert reverse("admin:metrics_weeklymetric_export") == EXPORT_URL


def test_export_link_of_a_filtered_list_equals_the_apis_csv_for_the_same_weeks(admin_client, client, api):
    seed_weeks(160)
    current = weeks.current_week_start()
    # Never-synced weeks among synced ones, so the filter picks a real subset.
    unsynced = [current - weeks.ONE_WEEK * age for age in range(40, 70)]
    WeeklyMetric.objects.filter(week_start__in=unsynced).update(synced_at=None)
    page = admin_client.get(LIST_URL, {"synced": "never"}).content.decode()
    link = re.search(r'<a href="([^"]+)" id="export-csv"', page).group(1).replace("&amp;", "&")
    assert link == f"{EXPORT_URL}?synced=never"
    exported = admin_client.get(link)
    assert exported.status_code == HTTPStatus.OK
    assert exported["Content-Disposition"].startswith('attachment; filename="weekly-stats-')
    assert [row["week_start"] for row in read_csv(exported)] == sorted(w.isoformat() for w in unsynced)
    assert exported.content == api_csv(client, f"from={min(unsynced)}&to={max(unsynced)}")


def test_export_action_of_selected_weeks_equals_the_apis_csv(admin_client, client, api):
    seed_weeks(80)
    current = weeks.current_week_start()
    first, last = current - weeks.ONE_WEEK * 60, current - weeks.ONE_WEEK * 50
    chosen = WeeklyMetric.objects.filter(week_start__gte=first, week_start__lte=last)
    response = admin_client.post(
        LIST_URL, {"action": "export_selected_as_csv", "_selected_action": [m.pk for m in chosen]}
    )
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("text/csv; charset=utf-8")
    assert response.content == api_csv(client, f"from={first}&to={last}")
    assert len(read_csv(response)) == 11


def test_export_needs_view_permission(client):
    staff = User.objects.create_user("staff", password="pw-long-enough-123", is_staff=True)
    client.force_login(staff)
    assert client.get(EXPORT_URL).status_code == HTTPStatus.FORBIDDEN
    staff.user_permissions.add(Permission.objects.get(codename="view_weeklymetric"))
    assert client.get(EXPORT_URL).status_code == HTTPStatus.OK


def test_export_of_nothing_is_a_header_row(admin_client):
    response = admin_client.get(EXPORT_URL)
    assert response.content.decode() == ",".join(numbers.COLUMNS) + "\r\n"


def test_list_shows_the_change_from_the_same_week_last_year(admin_client):
    current = weeks.current_week_start()
    last = current - weeks.ONE_WEEK
    for week, visitors in [(last, 150), (last - numbers.YEAR_BEFORE, 100), (current, 30)]:
        WeeklyMetric.objects.create(week_start=week, visitors=visitors)
    WeeklyMetric.objects.create(week_start=current - numbers.YEAR_BEFORE, visitors=60)
    page = admin_client.get(LIST_URL).content.decode()
    assert "Vs. same week last year" in page  # the column header (capitalised by the admin)
    cells = re.findall(r'<td class="field-vs_last_year">(.*?)</td>', page)
    # This week so far, 30, against that week's 60 prorated to the share of this week gone by.
    share = numbers.elapsed_share(current, timezone.now())
    assert cells[0].endswith(f"{numbers.percent_text(30 / (60 * share) - 1).lstrip('▲▼ ')} so far</span>")
    assert '<span class="vs-up" title="from 100 in the week of' in cells[1] and "▲ +50.0%" in cells[1]
    assert cells[2:] == ["-", "-"]  # nothing stored two years back


def test_page_title_says_what_the_page_is(admin_client):
    seed_weeks(2)
    page = admin_client.get(LIST_URL).content.decode()
    assert "Select weekly metric to change" not in page
    assert "<h1>Weekly metrics</h1>" in page
    assert "Add weekly metric" not in page


def test_headline_figures_compare_last_week_and_this_week_so_far():
    current = weeks.current_week_start()
    start, _ = weeks.week_bounds(current)
    now = start + dt.timedelta(days=3, hours=12)  # half the week gone
    WeeklyMetric.objects.create(week_start=current - 2 * weeks.ONE_WEEK, visitors=80, pageviews=400)
    WeeklyMetric.objects.create(week_start=current - weeks.ONE_WEEK, visitors=100, pageviews=300)
    WeeklyMetric.objects.create(week_start=current, visitors=60, pageviews=150)
    headline = numbers.headline(now=now)
    assert headline.days_elapsed == 3.5
    figures = {f.label: f for f in headline.figures}
    assert figures["Visitors, last week"].value == 100
    assert figures["Visitors, last week"].change == pytest.approx(0.25)
    assert figures["Pageviews, last week"].change == pytest.approx(-0.25)
    # This week so far against last week's total prorated to the same point (half of it).
    assert figures["Visitors, this week so far"].compared_with == pytest.approx(50)
    assert figures["Visitors, this week so far"].change == pytest.approx(0.2)
    assert figures["Pageviews, this week so far"].change == pytest.approx(0.0)


def test_headline_figures_are_on_the_list_page(admin_client):
    seed_weeks(3)
    page = admin_client.get(LIST_URL).content.decode()
    block = page.split('id="headline-figures"')[1].split('id="weekly-chart"')[0]
    last = WeeklyMetric.objects.get(week_start=weeks.current_week_start() - weeks.ONE_WEEK)
    assert "Visitors, last week" in block and f"{last.visitors:,}" in block
    assert "Visitors, this week so far" in block
    assert "Only weekly totals are stored" in block


@pytest.mark.parametrize(
    "drill_down",
    [
        {"week_start__year": "9999"},  # no year 10000 to end the range
        {"week_start__year": "9999", "week_start__month": "12"},  # no month after it
        {"week_start__year": "9999", "week_start__month": "12", "week_start__day": "31"},  # no next day
        {"week_start__year": "2025", "week_start__month": "13"},  # no such month (Django's own case)
    ],
)
def test_a_date_drill_down_out_of_range_is_refused_like_any_bad_lookup(admin_client, drill_down):
    seed_weeks(3)
    listed = admin_client.get(LIST_URL, drill_down)
    assert listed.status_code == HTTPStatus.FOUND and listed["Location"] == f"{LIST_URL}?e=1"
    exported = admin_client.get(EXPORT_URL, drill_down)
    assert exported.status_code == HTTPStatus.FOUND and exported["Location"] == LIST_URL
    # The action posts to the list with its filters: refused the same way, nothing exported.
    chosen = WeeklyMetric.objects.values_list("pk", flat=True)
    acted = admin_client.post(
        f"{LIST_URL}?{'&'.join(f'{k}={v}' for k, v in drill_down.items())}",
        {"action": "export_selected_as_csv", "_selected_action": list(chosen)},
    )
    assert acted.status_code == HTTPStatus.FOUND and acted["Location"] == f"{LIST_URL}?e=1"
