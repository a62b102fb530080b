"""Every metric's number of a week, built-ins and user-defined alike, keyed by metric key.

The built-ins' numbers are WeeklyMetric columns; a user-defined count, unique or sum metric's
is a MetricValue row (no row: 0); a ratio is its numerator over its denominator of the same
week (None when the denominator is 0), computed here and never stored.

How a number is typed (the API's JSON and CSV show exactly this): counts and uniques are
ints; sums are floats rounded to 6 decimal places, and ints when whole (5000, not 5000.0);
ratios are floats, unrounded.
"""

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from metrics.core.definitions import BUILT_IN_KEYS, Kind, MetricDefinition
from metrics.models import MetricValue

Number = int | float
# week start -> metric key -> (live value, PostHog's value at the last sync or None)
Stored = Mapping[dt.date, Mapping[str, tuple[float, float | None]]]
SUM_DECIMALS = 6


def counted_keys(definitions: Iterable[MetricDefinition]) -> tuple[str, ...]:
    """The keys of the user-defined metrics that have MetricValue rows (no ratios, no built-ins)."""
    return tuple(d.key for d in definitions if not d.built_in and d.kind is not Kind.RATIO)


def read_stored(definitions: Sequence[MetricDefinition], first: dt.date, last: dt.date) -> Stored:
    """The MetricValue rows of the weeks from `first` through `last`, in one query (none when
    no user-defined metric is counted)."""
    keys = counted_keys(definitions)
    if not keys:
        return {}
    found: dict[dt.date, dict[str, tuple[float, float | None]]] = {}
    rows = MetricValue.objects.filter(
        week_start__gte=first, week_start__lte=last, metric__key__in=keys
    ).values_list("week_start", "metric__key", "value", "posthog_value")
    for week_start, key, value, posthog_value in rows:
        found.setdefault(week_start, {})[key] = (value, posthog_value)
    return found


def typed(kind: Kind, value: float) -> Number:
    """A stored number as it is shown: see the module's docstring."""
    if kind is Kind.SUM:
        value = round(value, SUM_DECIMALS)
        return int(value) if value.is_integer() else value
    return round(value)


def week_metrics(
    definitions: Sequence[MetricDefinition],
    *,
    built_in: Mapping[str, int],
    stored: Mapping[str, tuple[float, float | None]],
) -> tuple[dict[str, Number | None], dict[str, Number | None]]:
    """(every metric's number in `definitions`' order, PostHog's number at the last sync of the
    counted ones) for one week, from its built-in columns and its MetricValue rows."""
    values: dict[str, Number | None] = {}
    posthog: dict[str, Number | None] = {}
    for definition in definitions:
        key = definition.key
        if key in BUILT_IN_KEYS:
            values[key] = built_in[key]
        elif definition.kind is not Kind.RATIO:
            live, synced = stored.get(key, (0.0, None))
            values[key] = typed(definition.kind, live)
            posthog[key] = typed(definition.kind, synced) if synced is not None else None
    for definition in definitions:
        if definition.kind is Kind.RATIO:
            values[definition.key] = ratio(
                values.get(definition.numerator), values.get(definition.denominator)
            )
    # Ratios were computed after the others: put every key back in display order.
    return {definition.key: values[definition.key] for definition in definitions}, posthog


def ratio(numerator: Number | None, denominator: Number | None) -> float | None:
    """`numerator` / `denominator`; None when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator
