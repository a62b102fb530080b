"""The PostHog stand-in's evaluation of HogQL over its events: row expressions and the
aggregate columns (count, countIf, uniqExactIf, sumIf) of a grouped query.

Property reads follow HogQL: `properties.x` is the JSON value's text (a string without its
quotes, `true`/`false`, a number as written), NULL when missing or null; `toFloat` is NULL
unless the whole text is a number; a comparison with a NULL side is false, its negation true.
This is written apart from the app's own code on purpose, so the stand-in checks the app.
"""

import json
import math
import re
from collections.abc import Callable
from typing import Any

from demo.hogql_parse import resolve

_FLOAT_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity|nan)", re.I)


def property_text(value: Any) -> str | None:
    """HogQL's text of a JSON property value; None for missing or null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, separators=(",", ":"))


def value(expr: tuple, event: Any) -> Any:
    """A row-level expression over one event (None is NULL)."""
    kind = expr[0]
    if kind == "lit":
        return expr[1]
    if kind == "field":
        path = expr[1]
        if path == ("event",):
            return event.event
        if path == ("person_id",):
            return event.person_id
        if path[0] == "properties" and len(path) == 2:
            if path[1] == "$host" and event.host is not None:
                return event.host
            return property_text((event.properties or {}).get(path[1]))
        raise ValueError(f"the stand-in cannot read the field {'.'.join(path)!r}")
    if kind in ("and", "or"):
        results = [bool(value(expr[1], event)), bool(value(expr[2], event))]
        return all(results) if kind == "and" else any(results)
    if kind == "not":
        return not value(expr[1], event)
    if kind == "null":
        return (value(expr[2], event) is None) != expr[1]
    if kind == "cmp":
        left, right = value(expr[2], event), value(expr[3], event)
        if left is None or right is None:
            return expr[1] == "!="
        return _COMPARE[expr[1]](left, right)
    if kind == "in":
        left = value(expr[2], event)
        if left is None:
            return expr[1]
        return (left in [value(item, event) for item in expr[3]]) != expr[1]
    if kind == "like":
        negated, insensitive, left, pattern = expr[1], expr[2], value(expr[3], event), value(expr[4], event)
        if left is None:
            return negated
        regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
        found = re.fullmatch(regex, left, re.I | re.S if insensitive else re.S) is not None
        return found != negated
    if kind == "call":
        name = resolve(expr[1])[0]
        args = [value(arg, event) for arg in expr[2]]
        return _ROW_FUNCTIONS[name](*args)
    raise ValueError(f"the stand-in cannot evaluate {kind}")


def to_float(text: Any) -> float | None:
    if text is None:
        return None
    text = text if isinstance(text, str) else property_text(text)
    return float(text) if _FLOAT_TEXT.fullmatch(text) else None


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}
_ROW_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "toFloat": to_float,
    "isFinite": lambda x: None if x is None else math.isfinite(x),
    "toString": lambda x, *_: None if x is None else (x if isinstance(x, str) else property_text(x)),
    "lower": lambda x: None if x is None else x.lower(),
    "coalesce": lambda *xs: next((x for x in xs if x is not None), None),
    "ifNull": lambda x, y: y if x is None else x,
    "isNull": lambda x: x is None,
    "isNotNull": lambda x: x is not None,
}


def aggregate(expr: tuple, events: list) -> Any:
    """An aggregate column over one group's events: a count is an int; a sum of Nullable
    values is None where nothing was added (as ClickHouse answers)."""
    if expr[0] != "call" or not resolve(expr[1])[1][2]:
        raise ValueError("the stand-in answers only aggregate columns after the week")
    name, args, distinct = resolve(expr[1])[0], expr[2], expr[3]
    if name == "count":
        if distinct:
            return len({value(args[0], e) for e in events} - {None})
        return len(events) if not args else sum(1 for e in events if value(args[0], e) is not None)
    if name == "countIf":
        return sum(1 for e in events if value(args[-1], e))
    if name in ("uniqExactIf", "uniqExact"):
        chosen = [e for e in events if value(args[-1], e)] if name == "uniqExactIf" else events
        keyed = [
            tuple(value(arg, e) for arg in (args[:-1] if name == "uniqExactIf" else args)) for e in chosen
        ]
        return len(set(keyed))
    if name in ("sumIf", "sum"):
        chosen = [e for e in events if value(args[1], e)] if name == "sumIf" else events
        numbers = [x for x in (value(args[0], e) for e in chosen) if x is not None]
        return float(sum(numbers)) if numbers else None
    raise ValueError(f"the stand-in cannot compute {name}")
