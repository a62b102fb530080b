"""The metric form's preview: ONE PostHog query for the last weeks of an unsaved definition.

`run_preview` is the seam: it builds the query (`preview_query`) and sends it through the
PostHog client. When the grouped builder (`metrics.posthog.query.weekly_counts_query` taking
the metrics) lands, `preview_query` becomes a call to it with the metrics asked for; nothing
else here changes. Until then the query is written here, in the grouped shape the design card
gives (one column per metric: countIf / uniqExactIf / sumIf), and with the sync's filters
(events, hosts, the project's test-account filters).
"""

import dataclasses
import datetime as dt
from typing import Any

from metrics.core import weeks
from metrics.core.definitions import Kind, MetricDefinition, built_ins
from metrics.core.errors import PostHogBadResponse
from metrics.core.hogql_text import hogql_property, hogql_string
from metrics.posthog import PostHogClient, PostHogConfig

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
    """The counted metrics the query needs: the definition itself, or a ratio's two operands."""
    if definition.kind is not Kind.RATIO:
        return [definition]
    by_key = {d.key: d for d in (*built_ins(), *stored)}
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
    query = preview_query(counted, config=client.config, first_week=first, last_week=last)
    # The client's one door for a query of our own (retries, deadlines, size limit, errors in
    # words). At merge, this is the grouped builder's query sent the same way.
    body = client._query(query, name=f"visitorsync metric preview {definition.key}")
    columns = read_answer(body, first_week=first, last_week=last, width=len(counted))
    current = weeks.current_week_start()
    shown = []
    for week in weeks.week_range(first, last):
        values = columns.get(week, [0.0] * len(counted))
        value: float | None = values[0]
        if definition.kind is Kind.RATIO:
            value = values[0] / values[1] if values[1] else None
        shown.append(PreviewWeek(week, value, week == current))
    return Preview(definition, shown, query["query"])


def preview_query(
    counted: list[MetricDefinition], *, config: PostHogConfig, first_week: dt.date, last_week: dt.date
) -> dict[str, Any]:
    """The HogQLQuery with one column `m0`, `m1`, ... per metric of `counted` (count, unique or
    sum), per week from first_week through last_week."""
    start, _ = weeks.week_bounds(first_week)
    _, end = weeks.week_bounds(last_week)
    every_event = sorted({name for d in counted for name in d.events})
    conditions = [
        f"event IN ({', '.join(hogql_string(name) for name in every_event)})",
        f"timestamp >= toDateTime({hogql_string(_utc_iso(start))})",
        f"timestamp < toDateTime({hogql_string(_utc_iso(end))})",
    ]
    if config.hosts:
        # The sync's host filter (metrics.posthog.query): an event without a $host passes.
        exact = [pattern.host for pattern in config.hosts if not pattern.subdomains]
        alternatives = ["coalesce(properties.$host, '') = ''"]
        if exact:
            alternatives.append(f"lower(properties.$host) IN ({', '.join(hogql_string(h) for h in exact)})")
        alternatives += [
            f"lower(properties.$host) LIKE {hogql_string('%.' + pattern.host)}"
            for pattern in config.hosts
            if pattern.subdomains
        ]
        conditions.append("(" + " OR ".join(alternatives) + ")")
    if config.filter_test_accounts:
        conditions.append("{filters}")
    columns = [f"    {_column(definition)} AS m{index}" for index, definition in enumerate(counted)]
    hogql = (
        f"SELECT toStartOfWeek(toTimeZone(timestamp, {hogql_string(config.timezone)}), "
        f"{int(config.week_mode)}) AS week,\n"
        + ",\n".join(columns)
        + "\nFROM events\nWHERE "
        + "\n    AND ".join(conditions)
        + f"\nGROUP BY week ORDER BY week LIMIT {PREVIEW_WEEKS + 1}"
    )
    query: dict[str, Any] = {"kind": "HogQLQuery", "query": hogql}
    if config.filter_test_accounts:
        query["filters"] = {"filterTestAccounts": True}
    return query


def _column(definition: MetricDefinition) -> str:
    condition = " AND ".join(
        [
            f"event IN ({', '.join(hogql_string(name) for name in definition.events)})",
            *(f"({condition.hogql()})" for condition in definition.properties),
        ]
    )
    if definition.kind is Kind.COUNT:
        return f"countIf({condition})"
    if definition.kind is Kind.UNIQUE:
        return f"uniqExactIf(person_id, {condition})"
    value = f"toFloat({hogql_property(definition.sum_property or '')})"
    # toFloat is NULL where the text is not a number; NaN and infinities are left out too.
    return f"sumIf({value}, {condition} AND isFinite({value}))"


def read_answer(
    body: dict[str, Any], *, first_week: dt.date, last_week: dt.date, width: int
) -> dict[dt.date, list[float]]:
    """Week -> the `width` numbers of its row; raises PostHogBadResponse for anything else."""
    rows = body.get("results")
    if not isinstance(rows, list) or body.get("hasMore"):
        raise PostHogBadResponse("PostHog's preview answer has no complete 'results' list.")
    found: dict[dt.date, list[float]] = {}
    for row in rows:
        week = _week(row[0]) if isinstance(row, list) and len(row) == width + 1 else None
        if week is None or not first_week <= week <= last_week:
            raise PostHogBadResponse(f"PostHog's preview answer has a row it should not: {str(row)[:100]}")
        values = row[1:]
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
            raise PostHogBadResponse(
                f"PostHog's preview answer has a value that is not a number: {row!r:.100}"
            )
        found[week] = [float(v) for v in values]
    return found


def _week(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value).date() if "T" in value else dt.date.fromisoformat(value)
    except ValueError:
        return None


def _utc_iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
