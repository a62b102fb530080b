"""The admin's reading of the user-defined metrics' numbers, and how a number is written.

A small stand-in for the read model (`metrics.numbers`), kept to one function so it can be
replaced by it: `week_values` reads MetricValue rows for the weeks asked for in one query
(no row: 0) and computes each ratio per week from its operands (None when the denominator
is 0). The built-ins come from the WeeklyMetric rows the caller already has.
"""

import datetime as dt
import math
from collections.abc import Iterable, Mapping

from metrics.core.definitions import Kind, MetricDefinition
from metrics.models import MetricValue

# week start -> metric key -> value (None: a ratio with a denominator of 0)
WeekValues = dict[dt.date, dict[str, float | None]]


def week_values(
    week_starts: Iterable[dt.date],
    definitions: Iterable[MetricDefinition],
    *,
    built_in: Mapping[dt.date, Mapping[str, float]],
) -> WeekValues:
    """Every metric of `definitions` in every week of `week_starts`, in one query.

    `built_in`: week -> {"visitors": ..., "pageviews": ...} from the rows already read."""
    week_starts = sorted(set(week_starts))
    definitions = list(definitions)
    stored: dict[tuple[dt.date, str], float] = {}
    if week_starts and any(not d.built_in and d.kind is not Kind.RATIO for d in definitions):
        rows = MetricValue.objects.filter(week_start__in=week_starts).values_list(
            "week_start", "metric__key", "value"
        )
        stored = {(week, key): value for week, key, value in rows}
    result: WeekValues = {}
    for week in week_starts:
        values: dict[str, float | None] = dict(built_in.get(week, {}))
        for definition in definitions:
            if definition.kind is not Kind.RATIO and not definition.built_in:
                values[definition.key] = stored.get((week, definition.key), 0.0)
        for definition in definitions:
            if definition.kind is Kind.RATIO:
                numerator = values.get(definition.numerator or "") or 0.0
                denominator = values.get(definition.denominator or "") or 0.0
                values[definition.key] = numerator / denominator if denominator else None
        result[week] = values
    return result


def formatted(value: float | None, *, unit: str, kind: Kind, compact: bool = False) -> str:
    """`value` as the list and the preview show it: whole numbers with separators, a currency
    with two decimals and its code (`compact`, for the list's narrow columns whose header names
    the currency: without the code, and without decimals from 10,000 up), a percent ratio with
    one decimal; "-" for no value."""
    if value is None or not math.isfinite(value):
        return "-"
    if unit == "percent":
        return f"{value * 100:,.1f}%"
    if unit != "number":
        if compact:
            return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:,.2f}"
        return f"{value:,.2f} {unit}"
    if kind is Kind.RATIO:
        return f"{value:,.3f}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
