"""The weekly list's metric columns: the built-ins as before, then one per user-defined metric
marked `in_admin_list`, in metric order, each number written in its unit and right-aligned.

`list_display` gives the columns for the metrics as stored now; each column shows the row's
`metric_values` (the read model's `Week.metrics`, put there by the list).
"""

from collections.abc import Callable, Sequence

from django.utils.html import format_html
from django.utils.safestring import SafeString

from metrics.admin.metric_text import formatted
from metrics.core.definitions import Kind, MetricDefinition
from metrics.models import WeeklyMetric

# The WeeklyMetric list's columns of the built-ins, by metric key.
BUILT_IN_COLUMNS = {"visitors": "visitors_display", "pageviews": "pageviews_display"}


def list_display(base: Sequence[str], definitions: Sequence[MetricDefinition]) -> list[str | Callable]:
    """`base` (the list's columns) without the built-ins not listed, with a column for each
    listed user-defined metric after the built-ins' columns."""
    keys = {definition.key for definition in definitions}
    shown: list[str | Callable] = [
        name for name in base if name not in BUILT_IN_COLUMNS.values() or _built_in_key(name) in keys
    ]
    after = max((i for i, name in enumerate(shown) if name in BUILT_IN_COLUMNS.values()), default=0)
    user = [column(definition) for definition in definitions if not definition.built_in]
    return [*shown[: after + 1], *user, *shown[after + 1 :]]


def column(definition: MetricDefinition) -> Callable[[WeeklyMetric], SafeString]:
    """A list column showing `definition`'s number of the row's week (`obj.metric_values`)."""

    def value(obj: WeeklyMetric) -> SafeString:
        number = getattr(obj, "metric_values", {}).get(definition.key)
        text = formatted(number, unit=definition.unit, kind=definition.kind, compact=True)
        if number is None and definition.kind is Kind.RATIO:
            return format_html('<span class="vs-num vs-quiet" title="{}">{}</span>', "denominator is 0", text)
        full = formatted(number, unit=definition.unit, kind=definition.kind)
        return format_html('<span class="vs-num" title="{}">{}</span>', full, text)

    value.__name__ = f"metric_{definition.key}"  # the column's CSS class: field-metric_<key>
    # A short header that wraps; a currency is named here, not in every cell.
    currency = definition.unit not in ("number", "percent")
    value.short_description = format_html(  # type: ignore[attr-defined]
        '<span class="vs-metric-header" title="{} ({})">{}{}</span>',
        definition.name,
        definition.key,
        definition.name,
        f" ({definition.unit})" if currency else "",
    )
    return value


def _built_in_key(column_name: str) -> str:
    return next(key for key, name in BUILT_IN_COLUMNS.items() if name == column_name)
