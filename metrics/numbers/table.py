"""Reading stored weeks into `Week`s with their neighbours, in a fixed number of queries.

`read_weeks` takes the weeks a caller has chosen (a filtered queryset, a page of the admin
list) and reads the weeks around them with one range query; `read_range` reads a span of
weeks and the year before it with one query. Either then reads the metric definitions
(metrics.catalog, one query) and, when a user-defined metric is counted, the MetricValue rows
of the whole span read (one query), so that every Week carries every metric's number.
"""

import dataclasses
import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from metrics import catalog
from metrics.core import weeks
from metrics.core.definitions import MetricDefinition
from metrics.models import WeeklyMetric
from metrics.numbers import per_metric
from metrics.numbers.week import (
    METRICS,
    YEAR_BEFORE,
    Week,
    same_week_last_year,
    week_before,
)

_POSTHOG = tuple(f"posthog_{name}" for name in METRICS)
_FIELDS = ("week_start", "synced_at", "updated_at", *METRICS, *_POSTHOG)


@dataclasses.dataclass(frozen=True)
class WeekTable:
    weeks: list[Week]  # the weeks asked for that are stored, oldest first
    # The newest change to any week read (those asked for, and the weeks before and a year
    # before them), or the start of the current week if later: when a week ends, it is no
    # longer in progress without any stored number changing.
    last_modified: dt.datetime
    stored: Mapping[dt.date, Week]  # every week read, those around the weeks asked for too
    definitions: tuple[MetricDefinition, ...] = ()  # every metric, in display order

    @functools.cached_property
    def _asked(self) -> dict[dt.date, Week]:
        return {week.week_start: week for week in self.weeks}

    def week(self, week_start: dt.date) -> Week | None:
        """One of the weeks asked for, None if it is not stored."""
        return self._asked.get(week_start)

    def last_year(self, week_start: dt.date, name: str) -> float | None:
        """The number of the same week last year of any week the table spans, stored or not."""
        week = self.stored.get(same_week_last_year(week_start))
        return week.value(name) if week is not None else None


def weeks_between(first: dt.date | None, last: dt.date | None) -> QuerySet:
    """The stored weeks from `first` through `last` (week starts, both optional, included)."""
    queryset = WeeklyMetric.objects.all()
    if first is not None:
        queryset = queryset.filter(week_start__gte=first)
    if last is not None:
        queryset = queryset.filter(week_start__lte=last)
    return queryset


def read_weeks(
    metrics: Iterable[WeeklyMetric],
    *,
    now: dt.datetime | None = None,
    definitions: tuple[MetricDefinition, ...] | None = None,
) -> WeekTable:
    """`metrics` (a queryset or rows) as weeks, oldest first, in four queries whatever their
    number (one fewer when they are rows already read, one fewer without user-defined counted
    metrics). `definitions`: `catalog.stored()` already read by the caller (one query fewer).

    The weeks before and a year before are read with one range query, so a week whose
    neighbour is filtered out of `metrics` still gets its change.
    """
    now = now or timezone.now()
    rows = sorted((_values_of(metric) for metric in metrics), key=lambda row: row["week_start"])
    if not rows:
        return _table([], {}, now=now, definitions=definitions)
    around = WeeklyMetric.objects.filter(
        week_start__gte=same_week_last_year(rows[0]["week_start"]), week_start__lt=rows[-1]["week_start"]
    ).values(*_FIELDS)
    return _table(rows, {row["week_start"]: row for row in around}, now=now, definitions=definitions)


def read_range(
    first: dt.date,
    last: dt.date,
    *,
    now: dt.datetime | None = None,
    definitions: tuple[MetricDefinition, ...] | None = None,
) -> WeekTable:
    """The stored weeks from `first` through `last`, with the year before them, in one query
    (and the definitions and MetricValue rows, as `read_weeks`)."""
    now = now or timezone.now()
    read = list(
        WeeklyMetric.objects.filter(week_start__gte=first - YEAR_BEFORE, week_start__lte=last)
        .order_by("week_start")
        .values(*_FIELDS)
    )
    rows = [row for row in read if row["week_start"] >= first]
    return _table(rows, {row["week_start"]: row for row in read}, now=now, definitions=definitions)


def _values_of(metric: WeeklyMetric) -> dict[str, Any]:
    return {field: getattr(metric, field) for field in _FIELDS}


def _week(
    row: Mapping[str, Any],
    *,
    now: dt.datetime,
    definitions: tuple[MetricDefinition, ...],
    values: per_metric.Stored,
) -> Week:
    built_in = {name: row[name] for name in METRICS}
    metrics, posthog = per_metric.week_metrics(
        definitions, built_in=built_in, stored=values.get(row["week_start"], {})
    )
    return Week(
        week_start=row["week_start"],
        values=built_in,
        read_at=now,
        synced_at=row["synced_at"],
        posthog_values={name: row[f"posthog_{name}"] for name in METRICS} | posthog,
        updated_at=row["updated_at"],
        metrics=metrics,
    )


def _table(
    rows: list[Mapping[str, Any]],
    around: Mapping[dt.date, Mapping[str, Any]],
    *,
    now: dt.datetime,
    definitions: tuple[MetricDefinition, ...] | None,
) -> WeekTable:
    definitions = catalog.stored() if definitions is None else definitions
    days = [row["week_start"] for row in rows] + list(around)
    values = per_metric.read_stored(definitions, min(days), max(days)) if days else {}

    def week(row: Mapping[str, Any]) -> Week:
        return _week(row, now=now, definitions=definitions, values=values)

    stored = {row["week_start"]: week(row) for row in rows}
    stored |= {day: week(row) for day, row in around.items() if day not in stored}
    asked = [
        dataclasses.replace(
            stored[row["week_start"]],
            before=stored.get(week_before(row["week_start"])),
            year_before=stored.get(same_week_last_year(row["week_start"])),
        )
        for row in rows
    ]
    current_started_at, _ = weeks.week_bounds(weeks.current_week_start(now=now))
    last_modified = max([current_started_at, *(week.updated_at for week in stored.values())])
    return WeekTable(weeks=asked, last_modified=last_modified, stored=stored, definitions=definitions)
