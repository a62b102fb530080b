"""The PostHog stand-in's HogQL parser and PostHog's list of the functions a query may call.

Like PostHog (posthog/hogql/printer, `visit_call`), a call to a function not on the list is
refused with `Unsupported function call 'name(...)'`, and a wrong number of arguments with
`Function 'name' expects N arguments, found M` (`Aggregation` for an aggregate;
posthog/hogql/functions/core.py, `validate_function_args`). The list holds what visitorsync's
queries use and a few neighbours, with PostHog's own argument counts
(posthog/hogql/functions/aggregations.py and clickhouse/*.py; docs/research/posthog-metrics.md
§5); a name PostHog marks case-insensitive is also found lower-cased.
"""

import re
from typing import Any

# name: (min args, max args or None, aggregate, case-insensitive)
FUNCTIONS: dict[str, tuple[int, int | None, bool, bool]] = {
    "count": (0, 1, True, True),
    "countIf": (1, 2, True, False),
    "sum": (1, 1, True, True),
    "sumIf": (2, 2, True, False),
    "uniqExact": (1, None, True, False),
    "uniqExactIf": (2, None, True, False),
    "toStartOfWeek": (1, 2, False, False),
    "toTimeZone": (1, 2, False, False),
    "toDateTime": (1, 2, False, False),
    "toFloat": (1, 1, False, False),
    "toString": (1, 2, False, False),
    "isFinite": (1, 1, False, False),
    "lower": (1, 1, False, True),
    "coalesce": (1, None, False, True),
    "ifNull": (2, 2, False, True),
    "isNull": (1, 1, False, True),
    "isNotNull": (1, 1, False, False),
}
_LOWER = {name.lower(): name for name, meta in FUNCTIONS.items() if meta[3]}
_TOKEN = re.compile(
    r"\s+|(?P<str>'(?:[^'\\]|\\.)*')|(?P<num>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)"
    r"|(?P<op>!=|>=|<=|[=<>(),.\[\]{}*])"
)
_KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "DISTINCT", "AS", "FROM", "WHERE"}


def tokens(text: str) -> list[tuple[str, Any]]:
    result, index = [], 0
    while index < len(text):
        match = _TOKEN.match(text, index)
        if not match:
            raise ValueError(f"Syntax error at position {index}")
        index = match.end()
        if match.group("str") is not None:
            result.append(("str", re.sub(r"\\(.)", r"\1", match.group("str")[1:-1])))
        elif match.group("num") is not None:
            result.append(("num", float(match.group("num"))))
        elif match.group("name") is not None:
            word = match.group("name")
            result.append(("kw", word.upper()) if word.upper() in _KEYWORDS else ("name", word))
        elif match.group("op") is not None:
            result.append(("op", match.group("op")))
    return result


class Parser:
    """Expressions as tuples: ("lit", v), ("field", path), ("call", name, args, distinct),
    ("cmp", op, a, b), ("in", negated, a, items), ("null", negated, a), ("and"/"or", a, b),
    ("not", a), ("placeholder", name)."""

    def __init__(self, text: str) -> None:
        self.items, self.at = tokens(text), 0

    def peek(self, offset: int = 0) -> tuple[str, Any] | None:
        index = self.at + offset
        return self.items[index] if index < len(self.items) else None

    def take(self, kind: str, value: Any = None) -> Any:
        item = self.peek()
        if item is None or item[0] != kind or (value is not None and item[1] != value):
            raise ValueError(f"Syntax error near {item[1] if item else 'the end'!r}")
        self.at += 1
        return item[1]

    def accept(self, kind: str, value: Any) -> bool:
        if self.peek() == (kind, value):
            self.at += 1
            return True
        return False

    def select(self) -> tuple[list[tuple[str, tuple]], tuple | None]:
        """The SELECT's (alias, expression) columns and the WHERE expression."""
        self.take("name", "SELECT") if self.peek() == ("name", "SELECT") else None
        columns = []
        while True:
            expr = self.expr()
            alias = self.take("name") if self.accept("kw", "AS") else ""
            columns.append((alias, expr))
            if not self.accept("op", ","):
                break
        self.take("kw", "FROM")
        self.take("name")
        where = self.expr() if self.accept("kw", "WHERE") else None
        return columns, where

    def expr(self) -> tuple:
        left = self.conjunction()
        while self.accept("kw", "OR"):
            left = ("or", left, self.conjunction())
        return left

    def conjunction(self) -> tuple:
        left = self.negation()
        while self.accept("kw", "AND"):
            left = ("and", left, self.negation())
        return left

    def negation(self) -> tuple:
        return ("not", self.negation()) if self.accept("kw", "NOT") else self.comparison()

    def comparison(self) -> tuple:
        left = self.primary()
        item = self.peek()
        if item and item[0] == "op" and item[1] in ("=", "!=", "<", ">", "<=", ">="):
            self.at += 1
            return ("cmp", item[1], left, self.primary())
        if self.accept("kw", "IS"):
            negated = self.accept("kw", "NOT")
            self.take("kw", "NULL")
            return ("null", negated, left)
        negated = self.accept("kw", "NOT")
        if self.accept("kw", "IN"):
            self.take("op", "(")
            values = [self.primary()]
            while self.accept("op", ","):
                values.append(self.primary())
            self.take("op", ")")
            return ("in", negated, left, values)
        for word in ("LIKE", "ILIKE"):
            if self.accept("kw", word):
                return ("like", negated, word == "ILIKE", left, self.primary())
        if negated:
            raise ValueError("Syntax error near NOT")
        return left

    def primary(self) -> tuple:
        kind, value = self.peek() or ("end", None)
        if kind in ("str", "num"):
            self.at += 1
            return ("lit", value)
        if (kind, value) == ("op", "("):
            self.at += 1
            inner = self.expr()
            self.take("op", ")")
            return inner
        if (kind, value) == ("op", "{"):
            self.at += 1
            name = self.take("name")
            self.take("op", "}")
            return ("placeholder", name)
        if kind == "kw" and value == "NULL":
            self.at += 1
            return ("lit", None)
        name = self.take("name")
        if self.accept("op", "("):
            distinct = self.accept("kw", "DISTINCT")
            args = []
            if not self.accept("op", ")"):
                args.append(self.expr())
                while self.accept("op", ","):
                    args.append(self.expr())
                self.take("op", ")")
            return ("call", name, args, distinct)
        path = [name]
        while True:
            if self.accept("op", "."):
                path.append(self.take("name"))
            elif self.accept("op", "["):
                path.append(self.take("str"))
                self.take("op", "]")
            else:
                return ("field", tuple(path))


def resolve(name: str) -> tuple[str, tuple[int, int | None, bool, bool]]:
    """PostHog's entry for a call, or its refusal (ValueError: a 400)."""
    real = name if name in FUNCTIONS else _LOWER.get(name.lower())
    if real is None:
        raise ValueError(f"Unsupported function call '{name}(...)'")
    return real, FUNCTIONS[real]


def check(expr: Any) -> None:
    """Refuse, as PostHog does, any call not on the list or with the wrong number of arguments."""
    if isinstance(expr, list):
        for item in expr:
            check(item)
    if not isinstance(expr, tuple):
        return
    if expr[0] == "call":
        _, (low, high, aggregate, _) = resolve(expr[1])
        found, term = len(expr[2]), "Aggregation" if aggregate else "Function"

        def refuse(how: str, count: int) -> ValueError:
            return ValueError(
                f"{term} '{expr[1]}' expects {how}{count} argument{'s' if count != 1 else ''}, found {found}"
            )

        if low == high and found != low:
            raise refuse("", low)
        if found < low:
            raise refuse("at least ", low)
        if high is not None and found > high:
            raise refuse("at most ", high)
    for part in expr[1:]:
        check(part)
