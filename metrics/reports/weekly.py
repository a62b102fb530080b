"""The weekly report's numbers: a complete week from the read model, its metric lines included."""

import dataclasses
import datetime as dt
from collections.abc import Mapping

from django.conf import settings
from django.urls import reverse

from metrics import numbers
from metrics.core import weeks
from metrics.core.errors import NoSuchWeek
from metrics.reports.report_metrics import MetricLine, metric_lines

HISTORY_WEEKS = 8
AVERAGE_WEEKS = 4


@dataclasses.dataclass(frozen=True)
class WeeklyReport:
    week: numbers.Week  # with the week before and the same week last year
    averages: Mapping[str, float] | None  # of the four weeks before, when all four are stored
    history: list[numbers.Week]  # the last HISTORY_WEEKS stored weeks, oldest first, this one last
    admin_url: str
    # The metrics marked for the report (metrics.reports.report_metrics), in display order.
    lines: tuple[MetricLine, ...] = ()

    @property
    def previous(self) -> numbers.Week | None:
        return self.week.before

    @property
    def year_ago(self) -> numbers.Week | None:
        return self.week.year_before

    def average(self, name: str) -> float | None:
        return self.averages[name] if self.averages is not None else None

    def change_from_average(self, name: str) -> float | None:
        return numbers.change_between(self.week.value(name), self.average(name))

    @property
    def subject(self) -> str:
        week = self.week
        change = week.change("visitors")
        trend = f", {format_change(change)} on the week before" if change is not None else ""
        return f"Visitors, week of {week.week_start:%d %b %Y}: {week.value('visitors'):,}{trend}"


def last_complete_week(*, now: dt.datetime | None = None) -> dt.date:
    """The first day of the latest week that has ended (VISITORSYNC_TIMEZONE, VISITORSYNC_WEEK_START)."""
    return numbers.week_before(weeks.current_week_start(now=now))


def build_report(*, week_start: dt.date | None = None) -> WeeklyReport:
    """The report for a complete week (default: the last one); raises NoSuchWeek. Two queries
    (the weeks, the metric definitions), three with user-defined counted metrics."""
    last_complete = last_complete_week()
    week_start = week_start or last_complete
    if not weeks.is_week_start(week_start):
        week_start = weeks.week_start_for_date(week_start)
    if week_start > last_complete:
        raise NoSuchWeek(
            f"The week of {week_start} has not ended yet; a report covers a complete week. "
            f"Give --week {last_complete} or earlier."
        )
    table = numbers.read_range(week_start - weeks.ONE_WEEK * (HISTORY_WEEKS - 1), week_start)
    week = table.week(week_start)
    if week is None:
        raise NoSuchWeek(
            f"No numbers are stored for the week of {week_start}. Run a sync first "
            "(manage.py sync_visitors), then send the report."
        )
    before = [table.week(week_start - weeks.ONE_WEEK * n) for n in range(1, AVERAGE_WEEKS + 1)]
    averages = (
        {name: sum(w.value(name) for w in before) / AVERAGE_WEEKS for name in numbers.METRICS}
        if all(before)
        else None
    )
    return WeeklyReport(
        week=week,
        averages=averages,
        history=table.weeks,
        admin_url=admin_url(reverse("admin:metrics_weeklymetric_changelist")),
        lines=metric_lines(table.definitions, week),
    )


def admin_url(path: str) -> str:
    """An absolute link when VISITORSYNC_BASE_URL is set, else the path alone."""
    return f"{settings.VISITORSYNC_BASE_URL}{path}"


def format_change(change: float | None) -> str:
    """+12.5% / -40.0% / "n/a"."""
    if change is None:
        return "n/a"
    return f"{change * 100:+.1f}%"
