"""One week's numbers and every fact derived from them, each defined here once.

A week's numbers are looked up by metric key (`week.value("visitors")`, `week.value("signups")`).
`METRICS` are the built-ins: each is a WeeklyMetric column, with `posthog_<name>` holding what
PostHog reported at the last sync. `Week.metrics` holds every metric's number, built-ins
included, in display order (metrics.numbers.per_metric says how each is typed); a ratio's is
None when its denominator is 0, and every comparison with None is None.
"""

import dataclasses
import datetime as dt
from collections.abc import Mapping

from metrics.core import weeks

METRICS = ("visitors", "pageviews")
YEAR_BEFORE = dt.timedelta(weeks=52)  # "the same week last year": 52 weeks back, same weekday


def change_between(value: float | None, base: float | None) -> float | None:
    """`value` against `base` as a fraction (0.25 = +25%).

    None when there is no value (a ratio over 0), no base, or it is zero (growth from zero has
    no meaningful percentage).
    """
    if value is None or not base:
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
    values: Mapping[str, int]  # built-in metric name -> the live number
    read_at: dt.datetime  # decides whether the week is in progress and how much of it is gone
    synced_at: dt.datetime | None = None
    # metric key -> PostHog's number at the last sync (built-ins and counted metrics; no ratios)
    posthog_values: Mapping[str, float | None] = dataclasses.field(default_factory=dict)
    updated_at: dt.datetime | None = None
    before: "Week | None" = None
    year_before: "Week | None" = None
    # Every metric's number, built-ins included, in display order (empty: built-ins only, read
    # from `values`).
    metrics: Mapping[str, float | None] = dataclasses.field(default_factory=dict)

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

    def value(self, name: str) -> float | None:
        """The number of metric `name` (None only for a ratio over 0); KeyError for no metric."""
        return self.metrics[name] if name in self.metrics else self.values[name]

    def previous(self, name: str) -> float | None:
        """The week before's number, None if that week is not stored."""
        return self.before.value(name) if self.before is not None else None

    def change(self, name: str) -> float | None:
        """Change from the week before, as a fraction."""
        return change_between(self.value(name), self.previous(name))

    def last_year(self, name: str) -> float | None:
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

    def from_webhook(self, name: str) -> float | None:
        """Counted by the webhook since the week's last sync, one rule for every metric: None for
        a ratio (computed, never counted) and before the week's first sync (nothing to compare
        with: the admin says "not synced yet"); after it, the number less PostHog's at that sync,
        all of it for a metric that sync did not count (defined since, so only the webhook
        counted it)."""
        value = self.value(name)
        # A sync stores PostHog's visitors with every week it counts: none, never synced.
        synced = self.posthog_values.get(METRICS[0]) is not None
        if name not in self.posthog_values or value is None or not synced:
            return None
        return value - (self.posthog_values[name] or 0)
