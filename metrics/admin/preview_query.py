"""The metric form's preview: ONE PostHog query for the last weeks of an unsaved definition.

The query is the sync's own grouped query (`PostHogClient.weekly_counts`, with the sync's
filters and its strict reading of the answer), asking for the definition, or for a ratio's two
operands, as its metrics: what the preview shows is what the next sync would store.
"""

import dataclasses
import datetime as dt

from metrics import numbers
from metrics.core import weeks
from metrics.core.definitions import Kind, MetricDefinition
from metrics.posthog import PostHogClient, QueriedMetric, WeekCount

PREVIEW_WEEKS = 8


@dataclasses.dataclass(frozen=True)
class PreviewWeek:
    week_start: dt.date
    value: float | None  # None: a ratio whose denominator is 0 that week
    in_progress: bool


@dataclasses.dataclass(frozen=True)
class Preview:
    definition: MetricDefinition
    weeks: list[PreviewWeek]  # oldest first
    query: str  # the HogQL sent


def preview_weeks(*, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The first and last week start of the preview: the last PREVIEW_WEEKS through the current one."""
    last = weeks.current_week_start() if today is None else weeks.week_start_for_date(today)
    return last - weeks.ONE_WEEK * (PREVIEW_WEEKS - 1), last


def operands(definition: MetricDefinition, stored: tuple[MetricDefinition, ...]) -> list[MetricDefinition]:
    """The counted metrics the query needs: the definition itself, or a ratio's two operands
    (`stored`: `catalog.stored()`, the built-ins included)."""
    if definition.kind is not Kind.RATIO:
        return [definition]
    by_key = {d.key: d for d in stored}
    return [by_key[definition.numerator], by_key[definition.denominator]]


def run_preview(
    definition: MetricDefinition,
    *,
    stored: tuple[MetricDefinition, ...],
    client: PostHogClient | None = None,
) -> Preview:
    """Ask PostHog, in one query, for the weeks `preview_weeks` gives of `definition` (checked,
    not saved; `stored`: the saved definitions a ratio's operands come from). Raises PostHogError
    (PostHogNotConfigured first, before anything is sent)."""
    client = client or PostHogClient()
    client.ensure_configured()
    first, last = preview_weeks()
    counted = operands(definition, stored)
    # The built-ins are columns of every such query; the others are asked for by position (an
    # unsaved definition has no row id yet).
    asked = {d.key: QueriedMetric(index + 1, d) for index, d in enumerate(counted) if not d.built_in}
    metrics = list(asked.values())
    answer = client.weekly_counts(first_week=first, last_week=last, metrics=metrics)
    current = weeks.current_week_start()
    shown = []
    for week in weeks.week_range(first, last):
        count = answer.for_week(week)
        values = [_value(operand, count, asked) for operand in counted]
        value: float | None = values[0]
        if definition.kind is Kind.RATIO:
            value = numbers.ratio(values[0], values[1])  # as the stored weeks compute it
        shown.append(PreviewWeek(week, value, week == current))
    query = client.weekly_counts_query(first_week=first, last_week=last, metrics=metrics)
    return Preview(definition, shown, query["query"])


def _value(definition: MetricDefinition, count: WeekCount, asked: dict[str, QueriedMetric]) -> float:
    if definition.built_in:
        return float(getattr(count, definition.key))
    return count.values.get(asked[definition.key].id, 0.0)
