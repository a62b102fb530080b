"""The weekly numbers as they leave visitorsync: one definition for the API and the admin.

`weekly_stats` turns stored weeks into rows (with the change from the week before and the
same week a year earlier) in a fixed number of queries, and `write_csv` is the one CSV
layout: `GET /api/stats/weekly?format=csv`, the admin's "Export selected weeks as CSV" and
its "Export as CSV" link all write these columns, in this order, from these rows.
"""

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from metrics.core import weeks
from metrics.models import WeeklyMetric

YEAR_BEFORE = dt.timedelta(weeks=52)  # "the same week last year": 52 weeks back, same weekday

COLUMNS = (
    "week_start",
    "week_end",
    "visitors",
    "pageviews",
    "visitors_change",
    "visitors_last_year",
    "confirmed",
    "in_progress",
    "synced_at",
)


@dataclasses.dataclass(frozen=True)
class WeekStats:
    """One week as the API and the exports give it."""

    week_start: dt.date
    week_end: dt.date
    visitors: int
    pageviews: int
    visitors_change: float | None  # fraction from the week before; None where undefined
    visitors_last_year: int | None  # the week 52 weeks back, None if not stored
    confirmed: bool  # PostHog synced the week after it ended
    in_progress: bool  # the current week, still counting
    synced_at: dt.datetime | None

    @property
    def change_from_last_year(self) -> float | None:
        """Change in visitors from the same week last year, as a fraction."""
        if not self.visitors_last_year:
            return None
        return (self.visitors - self.visitors_last_year) / self.visitors_last_year

    def as_json(self) -> dict[str, Any]:
        return {
            "week_start": self.week_start.isoformat(),
            "week_end": self.week_end.isoformat(),
            "visitors": self.visitors,
            "pageviews": self.pageviews,
            "visitors_change": self.visitors_change,
            "visitors_last_year": self.visitors_last_year,
            "confirmed": self.confirmed,
            "in_progress": self.in_progress,
            "synced_at": self.synced_at.isoformat() if self.synced_at else None,
        }


def weeks_between(first: dt.date | None, last: dt.date | None) -> QuerySet:
    """The stored weeks from `first` through `last` (week starts, both optional, included)."""
    queryset = WeeklyMetric.objects.all()
    if first is not None:
        queryset = queryset.filter(week_start__gte=first)
    if last is not None:
        queryset = queryset.filter(week_start__lte=last)
    return queryset


@dataclasses.dataclass(frozen=True)
class WeeklyStats:
    rows: list[WeekStats]
    # The newest change to any number the rows show (their weeks, the weeks before and a
    # year before), or the start of the current week if later: when a week ends, the rows
    # change (it is no longer in progress) without any stored number changing.
    last_modified: dt.datetime


def weekly_stats(metrics: Iterable[WeeklyMetric], *, now: dt.datetime | None = None) -> WeeklyStats:
    """`metrics` (a queryset or rows) as rows, oldest first, in two queries whatever their number.

    The weeks before and a year before are read with one range query, so a week whose
    neighbour is filtered out of `metrics` still gets its change.
    """
    now = now or timezone.now()
    current = weeks.current_week_start(now=now)
    current_started_at, _ = weeks.week_bounds(current)
    rows = sorted(metrics, key=lambda metric: metric.week_start)
    if not rows:
        return WeeklyStats(rows=[], last_modified=current_started_at)
    earlier: dict[dt.date, int] = {}
    last_modified = max([current_started_at, *(metric.updated_at for metric in rows)])
    for week_start, visitors, updated_at in WeeklyMetric.objects.filter(
        week_start__gte=rows[0].week_start - YEAR_BEFORE, week_start__lt=rows[-1].week_start
    ).values_list("week_start", "visitors", "updated_at"):
        earlier[week_start] = visitors
        last_modified = max(last_modified, updated_at)
    result = []
    for metric in rows:
        previous = earlier.get(metric.week_start - weeks.ONE_WEEK)
        _, week_end_at = weeks.week_bounds(metric.week_start)
        result.append(
            WeekStats(
                week_start=metric.week_start,
                week_end=metric.week_end,
                visitors=metric.visitors,
                pageviews=metric.pageviews,
                visitors_change=metric.visitors_change(previous),
                visitors_last_year=earlier.get(metric.week_start - YEAR_BEFORE),
                confirmed=metric.synced_at is not None and metric.synced_at >= week_end_at,
                in_progress=metric.week_start == current,
                synced_at=metric.synced_at,
            )
        )
    return WeeklyStats(rows=result, last_modified=last_modified)


def write_csv(rows: Iterable[WeekStats]) -> str:
    """The CSV of `rows`: RFC 4180 (CRLF, quoted where needed), a header row, ISO dates,
    empty cells for nulls and `true`/`false` for flags."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        values = row.as_json()
        writer.writerow([_cell(values[column]) for column in COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_filename(rows: list[WeekStats]) -> str:
    if not rows:
        return "weekly-stats.csv"
    return f"weekly-stats-{rows[0].week_start.isoformat()}-to-{rows[-1].week_start.isoformat()}.csv"


@dataclasses.dataclass(frozen=True)
class Figure:
    """One headline number and what it is compared with."""

    label: str
    value: int
    compared_with: float | None  # the number it is compared with; None: nothing to compare
    compared_label: str

    @property
    def change(self) -> float | None:
        if not self.compared_with:
            return None
        return (self.value - self.compared_with) / self.compared_with

    @property
    def value_text(self) -> str:
        return f"{self.value:,}"

    @property
    def change_text(self) -> str:
        return percent_text(self.change)


def percent_text(change: float | None) -> str:
    """A change as the admin shows it: '▲ +12.5%', '▼ -3.0%', '0%', '' for None."""
    if change is None:
        return ""
    percent = round(change * 100, 1)
    if percent > 0:
        return f"▲ +{percent}%"
    if percent < 0:
        return f"▼ {percent}%"
    return "0%"


@dataclasses.dataclass(frozen=True)
class Headline:
    """The figures above the admin's chart: the last complete week against the week before,
    and the current week so far against last week's total prorated to the same point.

    Only weekly totals are stored, so "the same point of last week" cannot be read: it is
    estimated as last week's total times the share of the week gone by (`elapsed`).
    """

    last_week: dt.date
    current_week: dt.date
    elapsed: float  # share of the current week gone by, 0..1
    figures: list[Figure]

    @property
    def last_week_end(self) -> dt.date:
        return self.last_week + dt.timedelta(days=6)

    @property
    def days_elapsed(self) -> float:
        return round(self.elapsed * 7, 1)


def headline(*, now: dt.datetime | None = None) -> Headline:
    """The headline figures, in one query."""
    now = now or timezone.now()
    current = weeks.current_week_start(now=now)
    last, before = current - weeks.ONE_WEEK, current - 2 * weeks.ONE_WEEK
    stored = {
        week: (visitors, pageviews)
        for week, visitors, pageviews in WeeklyMetric.objects.filter(
            week_start__in=[current, last, before]
        ).values_list("week_start", "visitors", "pageviews")
    }
    start, end = weeks.week_bounds(current)
    elapsed = min(max((now - start) / (end - start), 0.0), 1.0)
    figures = []
    for index, name in enumerate(("visitors", "pageviews")):
        previous = stored.get(before, (None, None))[index]
        last_value = stored.get(last, (None, None))[index]
        if last_value is not None:
            figures.append(
                Figure(
                    label=f"{name.capitalize()}, last week",
                    value=last_value,
                    compared_with=previous,
                    compared_label=f"the week before ({previous:,})" if previous is not None else "",
                )
            )
    for index, name in enumerate(("visitors", "pageviews")):
        if current in stored:
            last_value = stored.get(last, (None, None))[index]
            prorated = last_value * elapsed if last_value is not None else None
            figures.append(
                Figure(
                    label=f"{name.capitalize()}, this week so far",
                    value=stored[current][index],
                    compared_with=prorated,
                    compared_label=(
                        f"last week's total prorated to this point (≈{round(prorated):,})"
                        if prorated is not None
                        else ""
                    ),
                )
            )
    return Headline(last_week=last, current_week=current, elapsed=elapsed, figures=figures)
