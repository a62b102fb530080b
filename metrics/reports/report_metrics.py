"""The weekly report's metric lines: each metric marked `in_report`, with its number, the week
before, the same week last year and its target.

`visitors` and `pageviews` have the report's own lines above these; they get a line here too
only when they have a target. Every comparison is of the same metric's weekly numbers (a
ratio's is the quotient of each week, never an average).
"""

import dataclasses
from collections.abc import Iterable

from metrics import numbers
from metrics.core.definitions import Better, Kind, MetricDefinition


@dataclasses.dataclass(frozen=True)
class MetricLine:
    """One metric in the report; numbers None when that week is not stored (or a ratio over 0)."""

    key: str
    name: str
    unit: str
    better: Better
    value: float | None
    previous: float | None  # the week before
    last_year: float | None  # the same week 52 weeks back
    target: float | None
    before_stored: bool
    year_stored: bool
    kind: Kind = Kind.COUNT  # a ratio in "number" is written with three places

    @property
    def change(self) -> float | None:
        return numbers.change_between(self.value, self.previous)

    @property
    def change_from_last_year(self) -> float | None:
        return numbers.change_between(self.value, self.last_year)

    @property
    def met(self) -> bool | None:
        """Whether the week reached its target (at least it when higher is better, at most it
        when lower is); None without a target or a number."""
        if self.target is None or self.value is None:
            return None
        return self.value >= self.target if self.better is Better.HIGHER else self.value <= self.target

    @property
    def value_text(self) -> str:
        return numbers.format_value(self.value, self.unit, kind=self.kind)

    @property
    def previous_text(self) -> str:
        return _compared(self.previous, self.change, self.unit, kind=self.kind, stored=self.before_stored)

    @property
    def last_year_text(self) -> str:
        return _compared(
            self.last_year, self.change_from_last_year, self.unit, kind=self.kind, stored=self.year_stored
        )

    @property
    def target_text(self) -> str:
        if self.target is None:
            return "no target"
        target = numbers.format_value(self.target, self.unit, kind=self.kind)
        bound = "at least" if self.better is Better.HIGHER else "at most"
        verdict = {True: "met", False: "missed", None: "n/a"}[self.met]
        return f"{verdict} ({bound} {target})"


def metric_lines(definitions: Iterable[MetricDefinition], week: numbers.Week) -> tuple[MetricLine, ...]:
    """The lines of `week` (read with its week before and last year's), in display order."""
    return tuple(
        MetricLine(
            key=definition.key,
            name=definition.name,
            unit=definition.unit,
            better=definition.better,
            value=week.value(definition.key),
            previous=week.previous(definition.key),
            last_year=week.last_year(definition.key),
            target=definition.target,
            before_stored=week.before is not None,
            year_stored=week.year_before is not None,
            kind=definition.kind,
        )
        for definition in definitions
        if definition.in_report and (not definition.built_in or definition.target is not None)
    )


def _compared(value: float | None, change: float | None, unit: str, *, kind: Kind, stored: bool) -> str:
    if not stored:
        return "not stored"
    text = numbers.format_value(value, unit, kind=kind)
    if change is None:
        return text
    return f"{text} ({change * 100:+.1f}%)"
