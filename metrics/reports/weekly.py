"""The weekly report's numbers, computed from the stored weeks in one query."""

import dataclasses
import datetime as dt

from django.conf import settings
from django.db.models import Q
from django.urls import reverse

from metrics.core import weeks
from metrics.core.errors import NoSuchWeek
from metrics.models import WeeklyMetric

HISTORY_WEEKS = 8
AVERAGE_WEEKS = 4
YEAR_WEEKS = 52


@dataclasses.dataclass(frozen=True)
class WeekNumbers:
    week_start: dt.date
    visitors: int
    pageviews: int
    confirmed: bool  # PostHog counted it after the week ended (not only the webhook's running count)

    @property
    def week_end(self) -> dt.date:
        return self.week_start + dt.timedelta(days=6)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The week against another: None when the other week is not stored or had no visitors."""

    visitors: float | None
    pageviews: float | None


@dataclasses.dataclass(frozen=True)
class WeeklyReport:
    week: WeekNumbers
    previous: WeekNumbers | None
    year_ago: WeekNumbers | None
    average_visitors: float | None  # of the four weeks before, when all four are stored
    average_pageviews: float | None
    history: list[WeekNumbers]  # the last HISTORY_WEEKS stored weeks, oldest first, this one last
    admin_url: str

    @property
    def change_from_previous(self) -> Comparison:
        return _compare(self.week, self.previous)

    @property
    def change_from_year_ago(self) -> Comparison:
        return _compare(self.week, self.year_ago)

    @property
    def change_from_average(self) -> Comparison:
        return Comparison(
            visitors=_share(self.week.visitors, self.average_visitors),
            pageviews=_share(self.week.pageviews, self.average_pageviews),
        )

    @property
    def subject(self) -> str:
        week = self.week
        change = self.change_from_previous.visitors
        trend = f", {format_change(change)} on the week before" if change is not None else ""
        return f"Visitors, week of {week.week_start:%d %b %Y}: {week.visitors:,}{trend}"


def last_complete_week(*, now: dt.datetime | None = None) -> dt.date:
    """The first day of the latest week that has ended (VISITORSYNC_TIMEZONE, VISITORSYNC_WEEK_START)."""
    return weeks.current_week_start(now=now) - weeks.ONE_WEEK


def build_report(*, week_start: dt.date | None = None) -> WeeklyReport:
    """The report for a complete week (default: the last one); raises NoSuchWeek. One query."""
    last_complete = last_complete_week()
    week_start = week_start or last_complete
    if not weeks.is_week_start(week_start):
        week_start = weeks.week_start_for_date(week_start)
    if week_start > last_complete:
        raise NoSuchWeek(
            f"The week of {week_start} has not ended yet; a report covers a complete week. "
            f"Give --week {last_complete} or earlier."
        )
    first = week_start - weeks.ONE_WEEK * (HISTORY_WEEKS - 1)
    year_ago = week_start - weeks.ONE_WEEK * YEAR_WEEKS
    rows = {
        row.week_start: row
        for row in WeeklyMetric.objects.filter(
            Q(week_start__gte=first, week_start__lte=week_start) | Q(week_start=year_ago)
        )
    }
    if week_start not in rows:
        raise NoSuchWeek(
            f"No numbers are stored for the week of {week_start}. Run a sync first "
            "(manage.py sync_visitors), then send the report."
        )
    numbers = {day: _numbers(row) for day, row in rows.items()}
    before = [numbers.get(week_start - weeks.ONE_WEEK * n) for n in range(1, AVERAGE_WEEKS + 1)]
    complete = all(before)
    return WeeklyReport(
        week=numbers[week_start],
        previous=before[0],
        year_ago=numbers.get(year_ago),
        average_visitors=sum(w.visitors for w in before) / AVERAGE_WEEKS if complete else None,
        average_pageviews=sum(w.pageviews for w in before) / AVERAGE_WEEKS if complete else None,
        history=[numbers[day] for day in weeks.week_range(first, week_start) if day in numbers],
        admin_url=admin_url(reverse("admin:metrics_weeklymetric_changelist")),
    )


def admin_url(path: str) -> str:
    """An absolute link when VISITORSYNC_BASE_URL is set, else the path alone."""
    return f"{settings.VISITORSYNC_BASE_URL}{path}"


def format_change(change: float | None) -> str:
    """+12.5% / -40.0% / "n/a"."""
    if change is None:
        return "n/a"
    return f"{change * 100:+.1f}%"


def _numbers(row: WeeklyMetric) -> WeekNumbers:
    _, end = weeks.week_bounds(row.week_start)
    return WeekNumbers(
        week_start=row.week_start,
        visitors=row.visitors,
        pageviews=row.pageviews,
        confirmed=row.synced_at is not None and row.synced_at >= end,
    )


def _share(value: int, base: float | None) -> float | None:
    if not base:
        return None
    return (value - base) / base


def _compare(week: WeekNumbers, other: WeekNumbers | None) -> Comparison:
    if other is None:
        return Comparison(visitors=None, pageviews=None)
    return Comparison(
        visitors=_share(week.visitors, other.visitors), pageviews=_share(week.pageviews, other.pageviews)
    )
