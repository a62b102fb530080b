"""The HogQL that counts weeks, and how its answer is read: strictly, or not at all."""

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from metrics.core import weeks
from metrics.core.counting import HostPattern
from metrics.core.definitions import Kind, MetricDefinition
from metrics.core.errors import PostHogBadResponse
from metrics.core.hogql_text import hogql_property, hogql_string

# PostHog answers at most 100 rows without a LIMIT, and at most 50,000 with one.
ROW_LIMIT = 1000
# The largest count that is stored (a signed 64-bit database column).
MAX_COUNT = 2**63 - 1


@dataclasses.dataclass(frozen=True)
class WeekCount:
    """One week's numbers: the built-ins, and `values` (metric id -> PostHog's number) for the
    user-defined metrics the query counted (every one of them, zeros included)."""

    week_start: dt.date
    visitors: int
    pageviews: int
    values: dict[int, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class QueriedMetric:
    """A user-defined count, unique or sum metric as the query counts it: `id` names its column
    (`m_<id>`) and its entry in `WeekCount.values`."""

    id: int
    definition: MetricDefinition

    @property
    def alias(self) -> str:
        return f"m_{int(self.id)}"


@dataclasses.dataclass(frozen=True)
class WeeklyCounts:
    """PostHog's numbers for every week of a range; a week absent from `counts` is zero."""

    first_week: dt.date
    last_week: dt.date
    counts: dict[dt.date, WeekCount]
    metric_ids: tuple[int, ...] = ()  # the metrics counted: each week's `values` has them all

    def for_week(self, week_start: dt.date) -> WeekCount:
        return self.counts.get(week_start, WeekCount(week_start, 0, 0, dict.fromkeys(self.metric_ids, 0.0)))


def weekly_counts_query(
    *,
    week_mode: int,
    tz_name: str,
    events: tuple[str, ...],
    hosts: tuple[HostPattern, ...],
    filter_test_accounts: bool,
    start: dt.datetime,
    end: dt.datetime,
    metrics: Sequence[QueriedMetric] = (),
) -> dict[str, Any]:
    """The `HogQLQuery` that counts the weeks of [start, end): what the sync sends, and what the
    admin shows to paste into PostHog's SQL editor.

    Every constant is written into the query and no `values` are sent, because PostHog's
    parser substitutes `values` before it expands `{filters}`, and then refuses the
    `{filters}` placeholder (400) in every version that takes `values` (docs/compare-with-posthog.md).
    The mode and time zone are explicit so the buckets do not depend on the project's own
    "week starts on" and time zone. An event without a `$host` passes the host filter.

    Each of `metrics` adds one column to the same grouped query (so the number of queries does
    not grow with the number of metrics), and its events join the WHERE's event list; the
    built-ins then count only their own events. Without `metrics` the text is what it always was.
    """
    all_events = list(dict.fromkeys([*events, *(name for m in metrics for name in m.definition.events)]))
    conditions = [
        _event_condition(all_events),
        f"timestamp >= toDateTime({hogql_string(_utc_iso(start))})",
        f"timestamp < toDateTime({hogql_string(_utc_iso(end))})",
    ]
    if hosts:
        exact = [pattern.host for pattern in hosts if not pattern.subdomains]
        alternatives = ["coalesce(properties.$host, '') = ''"]
        if exact:
            alternatives.append(f"lower(properties.$host) IN ({', '.join(hogql_string(h) for h in exact)})")
        alternatives += [
            f"lower(properties.$host) LIKE {hogql_string('%.' + pattern.host)}"
            for pattern in hosts
            if pattern.subdomains
        ]
        conditions.append("(" + " OR ".join(alternatives) + ")")
    if filter_test_accounts:
        conditions.append("{filters}")  # the project's own "internal and test users" filters
    if metrics:
        built_in = _event_condition(events)
        columns = [
            f"uniqExactIf(person_id, {built_in}) AS visitors",
            f"countIf({built_in}) AS pageviews",
            *(f"{_metric_column(metric.definition)} AS {metric.alias}" for metric in metrics),
        ]
    else:
        columns = ["count(DISTINCT person_id) AS visitors", "count() AS pageviews"]
    hogql = (
        f"SELECT toStartOfWeek(toTimeZone(timestamp, {hogql_string(tz_name)}), {int(week_mode)}) AS week,\n"
        + "".join(f"    {column},\n" for column in columns[:-1])
        + f"    {columns[-1]}\n"
        "FROM events\n"
        "WHERE " + "\n    AND ".join(conditions) + "\n"
        f"GROUP BY week ORDER BY week LIMIT {ROW_LIMIT}"
    )
    query: dict[str, Any] = {"kind": "HogQLQuery", "query": hogql}
    if filter_test_accounts:
        query["filters"] = {"filterTestAccounts": True}
    return query


def _event_condition(events: Sequence[str]) -> str:
    return f"event IN ({', '.join(hogql_string(name) for name in events)})"


def _metric_column(definition: MetricDefinition) -> str:
    """The aggregate of one metric (docs/research/posthog-metrics.md §5 lists each function
    and where PostHog's source allows it): its events AND every property condition."""
    condition = " AND ".join(
        [_event_condition(definition.events), *(f.hogql() for f in definition.properties)]
    )
    match definition.kind:
        case Kind.COUNT:
            return f"countIf({condition})"
        case Kind.UNIQUE:
            return f"uniqExactIf(person_id, {condition})"
        case Kind.SUM:
            # toFloat is NULL where the text is not a number; NaN and infinities are left out too.
            number = f"toFloat({hogql_property(definition.sum_property or '')})"
            return f"sumIf({number}, {condition} AND isFinite({number}))"
    raise ValueError(f"{definition.key}: a {definition.kind} metric is not counted by PostHog")


def _utc_iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_weekly_counts(
    body: dict[str, Any],
    *,
    first_week: dt.date,
    last_week: dt.date,
    metrics: Sequence[QueriedMetric] = (),
) -> WeeklyCounts:
    """The weeks of a weekly-counts answer (with one column per metric of `metrics`, in order);
    raises PostHogBadResponse unless it is complete and sane."""
    if body.get("hasMore"):
        raise PostHogBadResponse(
            f"PostHog returned a truncated answer (hasMore) for weeks {first_week} to "
            f"{last_week}; nothing was stored. Lower VISITORSYNC_CHUNK_WEEKS."
        )
    rows = body.get("results")
    if not isinstance(rows, list):
        raise PostHogBadResponse("PostHog's answer has no 'results' list; nothing was stored.")
    # PostHog sets hasMore only for queries without a LIMIT; with ours, a full page of
    # rows is the sign that some were cut off. A range has fewer weeks than the limit.
    if len(rows) >= ROW_LIMIT:
        raise PostHogBadResponse(
            f"PostHog returned {len(rows)} rows for weeks {first_week} to {last_week}, the "
            "most a query may return, so the answer may be cut short; nothing was stored. "
            "Lower VISITORSYNC_CHUNK_WEEKS."
        )
    counts: dict[dt.date, WeekCount] = {}
    for row in rows:
        count = _parse_row(row, metrics)
        if not first_week <= count.week_start <= last_week or not weeks.is_week_start(count.week_start):
            raise PostHogBadResponse(
                f"PostHog returned week {count.week_start}, which is not a week start between "
                f"{first_week} and {last_week}. Check that VISITORSYNC_WEEK_START and "
                "VISITORSYNC_TIMEZONE are what you expect; nothing was stored."
            )
        if count.week_start in counts:
            # GROUP BY week gives each week once; a second row is not ours to add up or pick from.
            raise PostHogBadResponse(
                f"PostHog returned week {count.week_start} twice in one answer; nothing was stored. "
                "Please report it with this message and your PostHog version."
            )
        counts[count.week_start] = count
    return WeeklyCounts(first_week, last_week, counts, tuple(metric.id for metric in metrics))


def _parse_row(row: Any, metrics: Sequence[QueriedMetric]) -> WeekCount:
    """One (week, visitors, pageviews, metric...) row, read without any conversion that could
    hide a fault."""
    if not isinstance(row, list) or len(row) != 3 + len(metrics):
        raise PostHogBadResponse(f"PostHog returned a malformed row {_excerpt(row)}; nothing was stored.")
    week_start = _parse_week(row[0])
    if week_start is None:
        raise PostHogBadResponse(f"PostHog returned a malformed row {_excerpt(row)}; nothing was stored.")
    visitors = _parse_count(row[1], "visitors", week_start)
    pageviews = _parse_count(row[2], "pageviews", week_start)
    if visitors > pageviews:
        raise PostHogBadResponse(
            f"PostHog returned impossible numbers for week {week_start}: {visitors} visitors, "
            f"{pageviews} pageviews; nothing was stored."
        )
    values = {
        metric.id: _parse_value(value, metric, week_start)
        for metric, value in zip(metrics, row[3:], strict=True)
    }
    return WeekCount(week_start, visitors, pageviews, values)


def _parse_value(value: Any, metric: QueriedMetric, week_start: dt.date) -> float:
    """A metric's number: a count as `_parse_count`; a sum any finite JSON number. ClickHouse's
    sumIf over toFloat (Nullable) gives NULL for a week where no value was added: that is 0."""
    if metric.definition.kind is not Kind.SUM:
        return float(_parse_count(value, metric.definition.key, week_start))
    if value is None:
        return 0.0
    if type(value) not in (int, float) or not math.isfinite(value) or abs(value) > 1e300:
        raise PostHogBadResponse(
            f"PostHog returned a sum that is not a finite number ({metric.definition.key} "
            f"{_excerpt(value)} for week {week_start}); nothing was stored. Please report it "
            "with this message and your PostHog version."
        )
    return float(value)


def _parse_week(value: Any) -> dt.date | None:
    # toStartOfWeek gives a Date ("2025-03-10"); tolerate a DateTime rendering of its midnight.
    if not isinstance(value, str):
        return None
    try:
        if len(value) == len("2025-03-10"):
            return dt.date.fromisoformat(value)
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.date() if moment.time() == dt.time(0) else None


def _parse_count(value: Any, name: str, week_start: dt.date) -> int:
    # count() is a UInt64, which PostHog sends as a JSON integer. int() would truncate 5.9,
    # turn true into 1 and read "5": any of those means the answer is not what we asked for.
    # bool is a subclass of int, hence the exact type check.
    if type(value) is not int or not 0 <= value <= MAX_COUNT:
        raise PostHogBadResponse(
            f"PostHog returned a count that is not a whole number from 0 to {MAX_COUNT} "
            f"({name} {_excerpt(value)} for week {week_start}); nothing was stored. Please report it "
            "with this message and your PostHog version."
        )
    return value


def _excerpt(value: Any) -> str:
    # Messages are stored on the run and logged: an answer cannot make them arbitrarily long.
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."
