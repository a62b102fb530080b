"""One week's numbers and every fact derived from them, each defined here once.

A week's numbers are looked up by metric name (`week.value("visitors")`). The names are the
stored metrics, `METRICS`: each is a WeeklyMetric column, with `posthog_<name>` holding what
PostHog reported at the last sync.
"""

import dataclasses
import datetime as dt
from collections.abc import Mapping

from metrics.core import weeks

METRICS = ("visitors", "pageviews")
YEAR_BEFORE = dt.timedelta(weeks=52)  # "the same week last year": 52 weeks back, same weekday


def change_between(value: float, base: float | None) -> float | None:
    """`value` against `base` as a fraction (0.25 = +25%).

    None when there is no base or it is zero (growth from zero has no meaningful percentage).
    """
    if not base:
        return None
    return (value - base) / base


def week_end(week_start: dt.date) -> dt.date:
    """Last day of the week (inclusive)."""
    return week_start + dt.timedelta(days=6)


def week_before(week_start: dt.date) -> dt.date:
    return week_start - weeks.ONE_WEEK


def same_week_last_year(week_start: dt.date) -> dt.date:
    return week_start - YEAR_BEFORE


def elapsed_share(week_start: dt.date, now: dt.datetime) -> float:
    """The share of the week gone by at `now`, 0..1 (1 for a week that has ended)."""
    start, end = weeks.week_bounds(week_start)
    return min(max((now - start) / (end - start), 0.0), 1.0)


@dataclasses.dataclass(frozen=True)
class Week:
    """A stored week as read at `read_at`, with the stored week before it and the one 52 weeks
    back (None when not stored; the weeks around a week carry no neighbours of their own)."""

    week_start: dt.date
    values: Mapping[str, int]  # metric name -> the live number
    read_at: dt.datetime  # decides whether the week is in progress and how much of it is gone
    synced_at: dt.datetime | None = None
    posthog_values: Mapping[str, int | None] = dataclasses.field(default_factory=dict)
    updated_at: dt.datetime | None = None
    before: "Week | None" = None
    year_before: "Week | None" = None

    @property
    def week_end(self) -> dt.date:
        return week_end(self.week_start)

    @property
    def confirmed(self) -> bool:
        """PostHog synced the week after it ended (not only the webhook's running count)."""
        _, end = weeks.week_bounds(self.week_start)
        return self.synced_at is not None and self.synced_at >= end

    @property
    def in_progress(self) -> bool:
        """The current week, still counting."""
        return weeks.week_start_for(self.read_at) == self.week_start

    @property
    def elapsed(self) -> float:
        return elapsed_share(self.week_start, self.read_at)

    def value(self, name: str) -> int:
        return self.values[name]

    def previous(self, name: str) -> int | None:
        """The week before's number, None if that week is not stored."""
        return self.before.value(name) if self.before is not None else None

    def change(self, name: str) -> float | None:
        """Change from the week before, as a fraction."""
        return change_between(self.value(name), self.previous(name))

    def last_year(self, name: str) -> int | None:
        """The number of the same week last year, None if that week is not stored."""
        return self.year_before.value(name) if self.year_before is not None else None

    def change_from_last_year(self, name: str) -> float | None:
        return change_between(self.value(name), self.last_year(name))

    def previous_so_far(self, name: str) -> float | None:
        """The week before's total prorated to the share of this week gone by.

        Only weekly totals are stored, so "the same point of last week" cannot be read: it is
        estimated as last week's total times the share of the week gone by.
        """
        previous = self.previous(name)
        return previous * self.elapsed if previous is not None else None

    def change_so_far(self, name: str) -> float | None:
        """Change from the week before prorated to the same point (`previous_so_far`)."""
        return change_between(self.value(name), self.previous_so_far(name))

    def last_year_so_far(self, name: str) -> float | None:
        """The same week last year prorated to the share of this week gone by (see
        `previous_so_far`)."""
        last_year = self.last_year(name)
        return last_year * self.elapsed if last_year is not None else None

    def change_from_last_year_so_far(self, name: str) -> float | None:
        return change_between(self.value(name), self.last_year_so_far(name))

    def from_webhook(self, name: str) -> int | None:
        """Counted by the webhook since the last sync (None before the first sync)."""
        posthog = self.posthog_values.get(name)
        return None if posthog is None else self.value(name) - posthog
