"""How the PostHog stand-in reads and answers visitorsync's weekly HogQL: its literals, placeholders, host
filter, and PostHog-shaped "internal and test users" filters."""

import datetime as dt
import re

from demo import hogql_eval, hogql_parse
from demo.events import Event, week_start

WEEK_EXPR = re.compile(r"toStartOfWeek\(toTimeZone\(timestamp, '([^']+)'\), (\d)\)")
STRING = r"'((?:[^'\\]|\\.)*)'"
EVENTS_EXPR = re.compile(r"\bevent IN \(([^)]*)\)")
START_EXPR = re.compile(r"timestamp >= toDateTime\(" + STRING + r"\)")
END_EXPR = re.compile(r"timestamp < toDateTime\(" + STRING + r"\)")
HOSTS_EXPR = re.compile(r"lower\(properties\.\$host\) IN \(([^)]*)\)")
SUBDOMAIN_EXPR = re.compile(r"lower\(properties\.\$host\) LIKE '%\.([^']*)'")
LIMIT_EXPR = re.compile(r"\bLIMIT (\d+)\s*$")
PLACEHOLDER_EXPR = re.compile(r"\{(\w+)\}")
# What PostHog gives a new project (posthog/models/team/team.py): leave out localhost.
DEFAULT_TEST_ACCOUNT_FILTERS = [
    {"key": "$host", "operator": "not_regex", "value": r"^(localhost|127\.0\.0\.1)($|:)", "type": "event"}
]


def strings(text: str) -> list[str]:
    """The HogQL string literals in `text`, unescaped."""
    return [re.sub(r"\\(.)", r"\1", item) for item in re.findall(STRING, text)]


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_account_filter(item: dict):
    """One of PostHog's test-account filters as a predicate; a missing value passes it, as in
    PostHog (`not_regex` and `not_icontains` are true for null)."""
    key, operator, value = item["key"], item["operator"], item["value"]

    def field(e: Event) -> str | None:
        if item.get("type") == "person" and key == "email":
            return e.email
        if key == "$host":
            return e.host
        raise ValueError(f"the stub does not know the property {key!r}")

    if operator == "not_regex":
        return lambda e: field(e) is None or re.search(value, field(e)) is None
    if operator == "not_icontains":
        return lambda e: field(e) is None or value.lower() not in field(e).lower()
    raise ValueError(f"the stub does not know the operator {operator!r}")


def where_part(hogql: str) -> str:
    """The query from its WHERE on: the columns before it may hold `event IN (...)` too."""
    return hogql[hogql.index("\nWHERE ") :] if "\nWHERE " in hogql else hogql


def too_heavy(hogql: str, *, max_weeks: int | None) -> dict | None:
    """PostHog's 512 body if the query's range is longer than `max_weeks`, else None."""
    if max_weeks is None or not START_EXPR.search(hogql):
        return None
    start, end = moment(START_EXPR.search(hogql).group(1)), moment(END_EXPR.search(hogql).group(1))
    if (end - start) <= dt.timedelta(weeks=max_weeks, hours=1):
        return None
    seconds = round((end - start) / dt.timedelta(weeks=1) * 1.3)
    return {
        "type": "server_error",
        "code": "error",
        "detail": f"Estimated query execution time ({seconds} seconds) is too long. Try reducing "
        "its scope by changing the time range.",
        "attr": None,
    }


def where(hogql: str, values: dict, filters: dict | None, *, test_account_filters: list[dict]):
    """The event predicate the query's WHERE asks for, beyond events and bounds; raises
    ValueError (a 400) where PostHog refuses the query."""
    placeholders = set(PLACEHOLDER_EXPR.findall(hogql))
    if values and "filters" in placeholders:
        # PostHog substitutes `values` first and then finds {filters} unresolved.
        raise ValueError("Placeholder {filters} is not available in this context.")
    unknown = placeholders - set(values) - {"filters"}
    if unknown:
        raise ValueError(f"Unresolved placeholder: {{{sorted(unknown)[0]}}}")
    if filters is not None and set(filters) - {"filterTestAccounts", "dateRange", "properties"}:
        raise ValueError(f"Unknown filters: {sorted(filters)}")
    predicates = []
    hogql = where_part(hogql)
    if HOSTS_EXPR.search(hogql) or SUBDOMAIN_EXPR.search(hogql):
        exact = (
            {h.lower() for h in strings(HOSTS_EXPR.search(hogql).group(1))}
            if HOSTS_EXPR.search(hogql)
            else set()
        )
        subdomains = [s.lower() for s in SUBDOMAIN_EXPR.findall(hogql)]
        predicates.append(
            lambda e: (
                not e.host
                or e.host.lower() in exact
                or any(e.host.lower().endswith("." + s) for s in subdomains)
            )
        )
    if "filters" in placeholders and filters and filters.get("filterTestAccounts"):
        predicates += [test_account_filter(item) for item in test_account_filters]
    return lambda e: all(predicate(e) for predicate in predicates)


def answer(
    hogql: str,
    values: dict,
    filters: dict | None,
    *,
    events: list[Event],
    timezone: str,
    test_account_filters: list[dict],
) -> dict:
    """PostHog's answer to visitorsync's weekly query over `events`; ValueError (a 400) for
    what PostHog refuses."""
    base = {
        "is_cached": False,
        "timezone": timezone,
        "offset": 0,
        "hogql": hogql,
        "last_refresh": dt.datetime.now(dt.UTC).isoformat(),
    }
    if hogql.strip() == "SELECT 1":
        return {
            **base,
            "results": [[1]],
            "columns": ["1"],
            "types": [["1", "UInt8"]],
            "hasMore": False,
            "limit": 100,
        }
    week_match = WEEK_EXPR.search(hogql)
    if not week_match:
        raise ValueError("unsupported query: no toStartOfWeek(toTimeZone(...)) bucket")
    limit_match = LIMIT_EXPR.search(hogql)
    limit = int(limit_match.group(1)) if limit_match else 100
    tz_name, mode = week_match.group(1), int(week_match.group(2))
    columns, where_expr = hogql_parse.Parser(hogql).select()
    hogql_parse.check([expr for _, expr in columns])  # PostHog refuses unknown calls: a 400
    hogql_parse.check(where_expr)
    predicate = where(hogql, values, filters, test_account_filters=test_account_filters)
    named = EVENTS_EXPR.search(where_part(hogql))
    if not named:
        raise ValueError("unsupported query: no `event IN (...)` condition")
    start, end = START_EXPR.search(hogql), END_EXPR.search(hogql)
    if not (start and end):
        raise ValueError("unsupported query: no timestamp bounds")
    names, low, high = set(strings(named.group(1))), moment(start.group(1)), moment(end.group(1))
    groups: dict[dt.date, list[Event]] = {}
    for item in events:
        if item.event in names and low <= item.timestamp < high and predicate(item):
            groups.setdefault(week_start(item.timestamp, tz_name=tz_name, mode=mode), []).append(item)
    rows = [
        [week.isoformat(), *(hogql_eval.aggregate(expr, groups[week]) for _, expr in columns[1:])]
        for week in sorted(groups)
    ]
    types = [[alias, "Float64" if expr[1] in ("sumIf", "sum") else "UInt64"] for alias, expr in columns[1:]]
    return {
        **base,
        "results": rows[:limit],
        "columns": [alias for alias, _ in columns],
        "types": [["week", "Date"], *types],
        # Like PostHog: hasMore comes from its paginator, which only queries without a
        # LIMIT get; with a LIMIT the answer is cut silently.
        "hasMore": limit_match is None and len(rows) > limit,
        "limit": limit,
    }
