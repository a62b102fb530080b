"""How the admin writes a metric's number: the read model's text (`numbers.format_value`, the
one the report and alerts write), with the admin's "-" for no number (Django admin's empty
value) and a compact form for the weekly list's narrow columns."""

import math
from typing import Any

from metrics import numbers
from metrics.core.definitions import Kind


def formatted(value: float | None, *, unit: str, kind: Kind, compact: bool = False) -> str:
    """`value` in its unit, "-" for no value (a ratio over 0). `compact`: a currency without its
    sign (the column's header names it) and without cents from 10,000 up."""
    if value is None or not math.isfinite(value):
        return "-"
    if compact and unit not in ("number", "percent"):
        return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:,.2f}"
    return numbers.format_value(value, unit, kind=kind)


def target_text(metric: Any, *, per_week: bool = False) -> str:
    """A metric's target (a Metric row or a definition with one) in its unit, with which way
    is better: "€150.00, higher is better" ("€150.00 per week, higher is better")."""
    value = formatted(metric.target, unit=metric.unit, kind=Kind(metric.kind))
    return f"{value}{' per week' if per_week else ''}, {metric.better} is better"
