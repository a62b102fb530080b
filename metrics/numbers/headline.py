"""The figures above the admin's chart: the last complete week against the week before, and
the current week so far against last week's total prorated to the same point."""

import dataclasses
import datetime as dt

from django.utils import timezone

from metrics.core import weeks
from metrics.numbers.table import read_range
from metrics.numbers.week import METRICS, Week, change_between, elapsed_share, week_before, week_end


@dataclasses.dataclass(frozen=True)
class Figure:
    """One headline number and what it is compared with."""

    label: str
    value: int
    compared_with: float | None  # the number it is compared with; None: nothing to compare
    compared_label: str

    @property
    def change(self) -> float | None:
        return change_between(self.value, self.compared_with)

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
    """The headline figures; `elapsed` is the share of the current week gone by (0..1)."""

    last_week: dt.date
    current_week: dt.date
    elapsed: float
    figures: list[Figure]

    @property
    def last_week_end(self) -> dt.date:
        return week_end(self.last_week)

    @property
    def days_elapsed(self) -> float:
        return round(self.elapsed * 7, 1)


def headline(*, now: dt.datetime | None = None) -> Headline:
    """The headline figures, in one query."""
    now = now or timezone.now()
    current = weeks.current_week_start(now=now)
    last = week_before(current)
    table = read_range(last, current, now=now)
    figures = []
    for week, when, compared, compared_label in (
        (table.week(last), "last week", Week.previous, "the week before ({:,})"),
        (
            table.week(current),
            "this week so far",
            Week.previous_so_far,
            "last week's total prorated to this point (≈{:,})",
        ),
    ):
        if week is None:
            continue
        for name in METRICS:
            base = compared(week, name)
            figures.append(
                Figure(
                    label=f"{name.capitalize()}, {when}",
                    value=week.value(name),
                    compared_with=base,
                    compared_label=compared_label.format(round(base)) if base is not None else "",
                )
            )
    return Headline(
        last_week=last, current_week=current, elapsed=elapsed_share(current, now), figures=figures
    )
