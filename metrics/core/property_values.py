"""How HogQL reads an event property, reproduced in Python for the webhook: its text, its
`toFloat`, and `ILIKE`.

PostHog reads `properties.amount` as the JSON value's text: ClickHouse's `JSONExtractRaw`,
with NULL for a missing key or a JSON null and the quotes of a JSON string trimmed
(posthog/hogql/printer/base.py, `_unsafe_json_extract_trim_quotes`). `JSONExtractRaw` writes
the value anew rather than copying it (ClickHouse src/Functions/FunctionsJSON.cpp,
`JSONExtractRawImpl::traverse`): an integer in decimal, any other number in ClickHouse's
shortest form (`12.50` reads `12.5`, `1.0` reads `1`), `true`/`false`, and a string with
ClickHouse's JSON escapes (`writeJSONString` in src/IO/WriteHelpers.h, forward slashes kept).
HogQL's `toFloat(x)` is `accurateCastOrNull(x, 'Float64')`
(posthog/hogql/functions/clickhouse/conversions.py): the whole text must read as a number
(src/IO/readFloatText.h), otherwise NULL. docs/research/posthog-metrics.md has the details.
"""

import decimal
import functools
import json
import math
import re
from typing import Any

# The characters ClickHouse's writeJSONString escapes (besides other controls, as \u00XX).
_JSON_ESCAPES = {
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\\": "\\\\",
    '"': '\\"',
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f\\"\u2028\u2029]')
# What ClickHouse's float reader takes whole: an optional sign, digits with an optional point
# (or a point and digits), an optional exponent; or inf, infinity, nan in any case.
_FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPECIAL_FLOAT_TEXT = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)
# Integral doubles in this range are written as integers (writeFloatText's integer fast path).
_INTEGER_RANGE = 2.0**63


def property_text(value: Any) -> str | None:
    """The text HogQL reads for a property whose JSON value is `value` (as json.loads gives
    it); None where HogQL reads NULL (a missing property, a JSON null)."""
    if value is None:
        return None
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # not JSON: PostHog's pipeline never stores it (JSON.stringify writes null)
    return _json_text(value)


def text_to_float(text: str | None) -> float | None:
    """HogQL's `toFloat` of a text: the number it reads as a whole, else None. NaN and
    infinities read as such (`nan`, `inf`, `-Infinity`), so callers that sum skip them."""
    if text is None:
        return None
    if _FLOAT_TEXT.fullmatch(text) or _SPECIAL_FLOAT_TEXT.fullmatch(text):
        return float(text)
    return None


def to_float(value: Any) -> float | None:
    """HogQL's `toFloat(properties.x)` for a property whose JSON value is `value`: a JSON number
    or a numeric string gives its number; a boolean, a blank, "n/a", a missing property, an
    object or a list give None."""
    return text_to_float(property_text(value))


def summable(value: Any) -> float | None:
    """What a sum metric adds for this property value: `to_float` when it is a finite number,
    else None (skipped), as the query's `isFinite(toFloat(...))` skips it."""
    number = to_float(value)
    return number if number is not None and math.isfinite(number) else None


def ilike(text: str, pattern: str) -> bool:
    """ClickHouse's `text ILIKE pattern`: `%` any run, `_` any one character, a backslash makes
    the next character literal; case-insensitive; the whole text must match."""
    return _like_regex(pattern).fullmatch(text) is not None


@functools.lru_cache(maxsize=256)
def _like_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _json_string(value: str) -> str:
    if not _NEEDS_ESCAPE.search(value):
        return value
    return _NEEDS_ESCAPE.sub(_escape, value)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _JSON_ESCAPES.get(char) or f"\\u{ord(char):04X}"


def _json_text(value: Any) -> str:
    """`value` as JSONExtractRaw writes it (strings quoted, as inside an object or a list)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return number_text(value) if math.isfinite(value) else "null"
    if isinstance(value, str):
        return f'"{_json_string(value)}"'
    if isinstance(value, list):
        return "[" + ",".join(_json_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f'"{_json_string(str(k))}":{_json_text(v)}' for k, v in value.items()) + "}"
    return json.dumps(value)


def number_text(value: float) -> str:
    """A finite double as ClickHouse writes it: an integer when integral (and within Int64),
    else the shortest digits that read back the same, in plain notation from 1e-6 to below
    1e21 and as `1.5e21` / `1e-7` outside (the notation outside was not checked)."""
    if value.is_integer() and abs(value) < _INTEGER_RANGE:
        return str(int(value))
    sign, digits, exponent = decimal.Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    point = len(text) + int(exponent)  # digits before the decimal point
    if -6 < point <= 21:
        if point <= 0:
            body = "0." + "0" * -point + text
        elif point >= len(text):
            body = text + "0" * (point - len(text))
        else:
            body = text[:point] + "." + text[point:]
    else:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        body = f"{mantissa}e{point - 1}"
    return ("-" if sign else "") + body
