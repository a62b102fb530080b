"""User-defined metrics and their stored numbers for the read-side tests (API, report, alerts).

The numbers are written as MetricValue rows directly, not through the sync or the webhook:
these tests are about what is shown, whatever wrote it."""

import datetime as dt
from typing import Any

from metrics import catalog
from metrics.core.definitions import parse_definition
from metrics.models import Metric, MetricValue, WeeklyMetric

# The example plus a metric kept out of the report and a lower-is-better one.
KPIS: list[dict[str, Any]] = [
    {"key": "signups", "name": "Signups", "kind": "count", "events": ["signed_up"], "target": 40},
    {"key": "pro_buyers", "name": "Pro buyers", "kind": "unique", "events": ["purchase"],
     "properties": [{"key": "plan", "operator": "exact", "value": ["pro"]}], "in_report": False},
    {"key": "revenue", "name": "Revenue", "kind": "sum", "events": ["purchase"], "property": "amount",
     "unit": "EUR", "target": 5000},
    {"key": "signup_rate", "name": "Signup rate", "kind": "ratio", "numerator": "signups",
     "denominator": "visitors", "target": 0.03},
    {"key": "refunds", "name": "Refunds", "kind": "count", "events": ["refunded"], "better": "lower",
     "target": 3},
]  # fmt: skip


def define(*definitions: dict[str, Any]) -> None:
    """Save each definition (checked, like the admin and the import do), in this order."""
    for raw in definitions or KPIS:
        catalog.save(parse_definition(raw))


def store(week_start: dt.date, *, visitors: int = 0, pageviews: int = 0, **values: float) -> None:
    """A week with its built-in numbers and, per key given, the metric's MetricValue row."""
    WeeklyMetric.objects.update_or_create(
        week_start=week_start, defaults={"visitors": visitors, "pageviews": pageviews}
    )
    ids = dict(Metric.objects.values_list("key", "id"))
    for key, value in values.items():
        MetricValue.objects.update_or_create(
            week_start=week_start, metric_id=ids[key], defaults={"value": value, "posthog_value": value}
        )


def stored_values() -> dict[tuple[dt.date, str], tuple[float, float | None]]:
    """Every MetricValue row as (week, metric key) -> (value, posthog_value)."""
    return {
        (row.week_start, row.metric.key): (row.value, row.posthog_value)
        for row in MetricValue.objects.select_related("metric")
    }
