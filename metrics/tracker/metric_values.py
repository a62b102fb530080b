"""The user-defined metrics' side of a sync: which are counted, what was stored before each
query, what PostHog's answer changes, and writing their `MetricValue` rows.

The built-ins stay on WeeklyMetric (apply.py); these follow the same rules: every week of the
range gets PostHog's number, plus whatever webhooks added since the snapshot (one UPDATE with
F(), so no increment is lost), in the sync's one write transaction.
"""

import datetime as dt
import math
from collections.abc import Sequence

from django.db.models import F, Min, Value

from metrics import catalog
from metrics.core import weeks
from metrics.core.definitions import Kind
from metrics.models import MetricValue, SyncRun, WeeklyMetric
from metrics.posthog import QueriedMetric, WeekCount

# The stored rows of the metrics, as read before each range's query: (week, metric id) -> row.
ValueSnapshot = dict[tuple[dt.date, int], dict]
# Sums are added in another order by PostHog than by the webhook: equal within this share.
SUM_TOLERANCE = 1e-9


def counted_metrics() -> tuple[QueriedMetric, ...]:
    """The metrics the sync asks PostHog for (count, unique and sum; not ratios or built-ins)."""
    return tuple(QueriedMetric(item.id, item.definition) for item in catalog.counted())


def snapshot(week_starts: list[dt.date], metrics: Sequence[QueriedMetric]) -> ValueSnapshot:
    """The stored rows of `metrics` in the weeks from the first through the last of `week_starts`."""
    if not metrics:
        return {}
    rows = MetricValue.objects.filter(
        metric_id__in=[metric.id for metric in metrics],
        week_start__gte=week_starts[0],
        week_start__lte=week_starts[-1],
    ).values("id", "week_start", "metric_id", "value", "posthog_value")
    return {(row["week_start"], row["metric_id"]): row for row in rows}


def same(metric: QueriedMetric, a: float | None, b: float | None) -> bool:
    """Whether two stored numbers of `metric` are the same: exactly for counts and uniques,
    within SUM_TOLERANCE (relative) for sums."""
    if a is None or b is None:
        return a is b
    if metric.definition.kind is Kind.SUM:
        return math.isclose(a, b, rel_tol=SUM_TOLERANCE, abs_tol=0.0)
    return a == b


def moved(
    week: dt.date, *, metrics: Sequence[QueriedMetric], stored: ValueSnapshot, count: WeekCount
) -> tuple[tuple[str, float, float], ...]:
    """(key, before, after) for each metric whose live number PostHog's answer moves in `week`;
    a metric without a row held 0."""
    result = []
    for metric in metrics:
        row = stored.get((week, metric.id))
        before = row["value"] if row else 0.0
        after = count.values.get(metric.id, 0.0)
        if not same(metric, before, after):
            result.append((metric.definition.key, _shown(metric, before), _shown(metric, after)))
    return tuple(result)


def _shown(metric: QueriedMetric, value: float) -> float:
    # Counts are whole numbers: show 3, not 3.0, in a run's changes.
    return int(value) if metric.definition.kind is not Kind.SUM and value.is_integer() else value


def write(
    *,
    week_starts: list[dt.date],
    metrics: Sequence[QueriedMetric],
    stored: ValueSnapshot,
    answer: dict[dt.date, WeekCount],
) -> None:
    """Give every metric a row in every week: value = PostHog's + (live - live at the snapshot),
    posthog_value = PostHog's. Rows that already hold exactly that are left alone."""
    if not metrics:
        return
    new: list[MetricValue] = []
    updates: list[tuple[int, float, float]] = []  # (row id, PostHog's number, live at the snapshot)
    for week in week_starts:
        count = answer.get(week)
        for metric in metrics:
            after = count.values.get(metric.id, 0.0) if count else 0.0
            row = stored.get((week, metric.id))
            if row is None:
                new.append(
                    MetricValue(metric_id=metric.id, week_start=week, value=after, posthog_value=after)
                )
            elif not (same(metric, row["value"], after) and same(metric, row["posthog_value"], after)):
                updates.append((row["id"], after, row["value"]))
    MetricValue.objects.bulk_create(new, ignore_conflicts=True)
    # A webhook may have created one of those rows since the snapshot: its row won (the
    # conflict was ignored) and was never synced, so it is updated from zero.
    if new:
        wanted = {(item.week_start, item.metric_id): item.value for item in new}
        raced = MetricValue.objects.filter(
            metric_id__in=[metric.id for metric in metrics],
            week_start__in=sorted({item.week_start for item in new}),
            posthog_value__isnull=True,
        ).values_list("id", "week_start", "metric_id")
        updates += [
            (pk, wanted[(week, metric_id)], 0.0)
            for pk, week, metric_id in raced
            if (week, metric_id) in wanted
        ]
    MetricValue.objects.bulk_update(
        [
            MetricValue(pk=pk, value=Value(after) + F("value") - Value(before), posthog_value=after)
            for pk, after, before in updates
        ],
        ["value", "posthog_value"],
    )


def mark_restated(*, run: SyncRun, week_starts: list[dt.date]) -> None:
    """After a sync wrote every week, from the earliest stored one through the current week, the
    definitions saved before it started are counted in every week: none is pending restatement.
    A sync of some weeks only (selected, or `since` a later week) leaves them pending."""
    if not week_starts:
        return
    first, last = week_starts[0], week_starts[-1]
    # The earliest week a full sync starts from (sync._all_weeks ignores rows older than
    # PostHog's data, put there by hand).
    stored = WeeklyMetric.objects.filter(week_start__gte=weeks.EARLIEST_DAY)
    earliest = stored.aggregate(first=Min("week_start"))["first"]
    every_week = len(week_starts) == (last - first).days // 7 + 1
    if every_week and earliest is not None and first <= earliest and last >= weeks.current_week_start():
        catalog.mark_restated(counted_before=run.started_at)
