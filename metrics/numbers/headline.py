"""The figures above the admin's chart: the last complete week against the week before, and
the current week so far against last week's total prorated to the same point."""

import dataclasses
import datetime as dt
from collections.abc import Sequence

from django.utils import timezone

from metrics.core import weeks
from metrics.core.definitions import Better, Kind, MetricDefinition
from metrics.numbers.table import read_range
from metrics.numbers.units import format_value
from metrics.numbers.week import METRICS, change_between, elapsed_share, week_before, week_end


@dataclasses.dataclass(frozen=True)
class Figure:
    """One headline number and what it is compared with."""

    label: str
    value: float | None  # None: a ratio over 0
    compared_with: float | None  # the number it is compared with; None: nothing to compare
    compared_label: str
    unit: str = "number"  # the metric's unit (metrics.numbers.units)
    key: str = ""
    better: Better = Better.HIGHER  # which way of the change is good news
    kind: Kind = Kind.COUNT  # a ratio in "number" is written with three places

    @property
    def change_class(self) -> str:
        """The change's CSS class by what it means, not its sign: "vs-up" (green) when it moved
        the better way, "vs-down" (red) the worse way, "vs-quiet" for none or no change; a rise
        of a lower-is-better metric is red."""
        change = self.change
        if not change:
            return "vs-quiet"
        return "vs-up" if (change > 0) == (self.better is Better.HIGHER) else "vs-down"

    @property
    def change(self) -> float | None:
        return change_between(self.value, self.compared_with)

    @property
    def value_text(self) -> str:
        return format_value(self.value, self.unit, kind=self.kind)

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
    """The headline figures; `elapsed` is the share of the current week gone by (0..1);
    `last_week_stored`, `current_week_stored`: whether the figures include that week (the
    page says nothing of a week with no data)."""

    last_week: dt.date
    current_week: dt.date
    elapsed: float
    figures: list[Figure]
    last_week_stored: bool = False
    current_week_stored: bool = False

    @property
    def last_week_end(self) -> dt.date:
        return week_end(self.last_week)

    @property
    def days_elapsed(self) -> float:
        return round(self.elapsed * 7, 1)


def headline(
    *,
    now: dt.datetime | None = None,
    keys: Sequence[str] | None = None,
    definitions: tuple[MetricDefinition, ...] | None = None,
) -> Headline:
    """The headline figures of the metrics `keys` (default: the built-ins), in display order,
    from one read (`read_range`; `definitions`: `catalog.stored()` already read by the caller).
    A ratio's "so far" figure is compared with last week's ratio as it is: a quotient is not
    prorated."""
    now = now or timezone.now()
    current = weeks.current_week_start(now=now)
    last = week_before(current)
    table = read_range(last, current, now=now, definitions=definitions)
    wanted = METRICS if keys is None else tuple(keys)
    shown = [definition for definition in table.definitions if definition.key in wanted]
    figures = []
    for week, when, prorated in (
        (table.week(last), "last week", False),
        (table.week(current), "this week so far", True),
    ):
        if week is None:
            continue
        for definition in shown:
            name, unit = definition.key, definition.unit
            # A quotient is not prorated: this week's ratio so far is compared with last week's.
            ratio = definition.kind is Kind.RATIO
            base = week.previous_so_far(name) if prorated and not ratio else week.previous(name)
            figures.append(
                Figure(
                    label=f"{name.capitalize() if definition.built_in else definition.name}, {when}",
                    value=week.value(name),
                    compared_with=base,
                    compared_label=_compared_label(base, unit, prorated=prorated, ratio=ratio),
                    unit=unit,
                    key=name,
                    better=definition.better,
                    kind=definition.kind,
                )
            )
    return Headline(
        last_week=last,
        current_week=current,
        elapsed=elapsed_share(current, now),
        figures=figures,
        last_week_stored=table.week(last) is not None,
        current_week_stored=table.week(current) is not None,
    )


def _compared_label(base: float | None, unit: str, *, prorated: bool, ratio: bool) -> str:
    if base is None:
        return ""
    if ratio:
        return (
            f"{'last week' if prorated else 'the week before'} ({format_value(base, unit, kind=Kind.RATIO)})"
        )
    text = format_value(round(base) if unit == "number" else base, unit)
    return f"last week's total prorated to this point (≈{text})" if prorated else f"the week before ({text})"
