"""Conditions on event properties, in PostHog's own property-filter shape, for both paths.

A filter reads `{"key": "plan", "operator": "exact", "value": ["pro", "team"]}`, as PostHog's
insights write it (the `type`, if given, must be "event"). `hogql()` is the condition the sync
puts in its query; `matches()` is the same condition on a webhook delivery's properties.
Both compare the text HogQL reads (metrics.core.property_values), so `5`, `"5"` and `5.0`
all read `5`, and `true` reads `true`. As in PostHog, a negative operator (is_not,
not_icontains, is_not_set) is true where the property is missing or null.
"""

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from metrics.core.errors import InvalidMetricDefinition
from metrics.core.hogql_text import hogql_property, hogql_string
from metrics.core.property_values import ilike, property_text

MAX_VALUES = 50
MAX_TEXT = 1000
PLAIN_TEXT = f"at most {MAX_TEXT} characters, without line breaks or other control characters."


class Operator(enum.StrEnum):
    EXACT = "exact"
    IS_NOT = "is_not"
    ICONTAINS = "icontains"
    NOT_ICONTAINS = "not_icontains"
    IS_SET = "is_set"
    IS_NOT_SET = "is_not_set"


_WITHOUT_VALUE = frozenset({Operator.IS_SET, Operator.IS_NOT_SET})
_FILTER_FIELDS = frozenset({"key", "operator", "value", "type"})


@dataclasses.dataclass(frozen=True)
class PropertyFilter:
    """`key` compared by `operator` with `values`: the texts HogQL would read (none for
    is_set and is_not_set); a property matches exact/icontains if it matches any value."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, properties: Mapping[str, Any]) -> bool:
        """Whether an event whose properties (as json.loads gives them) are `properties` passes."""
        text = property_text(properties.get(self.key))
        match self.operator:
            case Operator.EXACT:
                return text is not None and text in self.values
            case Operator.IS_NOT:
                return text is None or text not in self.values
            case Operator.ICONTAINS:
                return text is not None and any(ilike(text, f"%{value}%") for value in self.values)
            case Operator.NOT_ICONTAINS:
                return text is None or not any(ilike(text, f"%{value}%") for value in self.values)
            case Operator.IS_SET:
                return text is not None
            case Operator.IS_NOT_SET:
                return text is None

    def hogql(self) -> str:
        """The condition in HogQL, written as PostHog writes the filter (posthog/hogql/property.py,
        `property_to_expr`), except that several icontains/not_icontains values are one ILIKE each
        (PostHog's newer multiSearchAnyCaseInsensitive form is false for a missing property)."""
        field = hogql_property(self.key)
        texts = [hogql_string(value) for value in self.values]
        patterns = [hogql_string(f"%{value}%") for value in self.values]
        match self.operator:
            case Operator.EXACT:
                return f"{field} = {texts[0]}" if len(texts) == 1 else f"{field} IN ({', '.join(texts)})"
            case Operator.IS_NOT:
                return f"{field} != {texts[0]}" if len(texts) == 1 else f"{field} NOT IN ({', '.join(texts)})"
            case Operator.ICONTAINS:
                return _joined([f"toString({field}) ILIKE {pattern}" for pattern in patterns], "OR")
            case Operator.NOT_ICONTAINS:
                return _joined([f"toString({field}) NOT ILIKE {pattern}" for pattern in patterns], "AND")
            case Operator.IS_SET:
                return f"{field} IS NOT NULL"
            case Operator.IS_NOT_SET:
                return f"{field} IS NULL"

    def to_json(self) -> dict[str, Any]:
        """The filter in PostHog's shape (what an export writes)."""
        body: dict[str, Any] = {"key": self.key, "operator": str(self.operator)}
        if self.operator not in _WITHOUT_VALUE:
            body["value"] = list(self.values)
        return body


def _joined(conditions: list[str], operator: str) -> str:
    return conditions[0] if len(conditions) == 1 else "(" + f" {operator} ".join(conditions) + ")"


def parse_filter(raw: Any, *, metric: str, field: str) -> PropertyFilter:
    """A filter from its JSON shape; raises InvalidMetricDefinition naming `metric` and the
    field (`field` is where the filter sits, like "properties[0]")."""

    def refuse(part: str, detail: str) -> InvalidMetricDefinition:
        return InvalidMetricDefinition(detail, metric=metric, field=f"{field}.{part}" if part else field)

    if not isinstance(raw, dict):
        raise refuse(
            "", 'a condition is an object like {"key": "plan", "operator": "exact", "value": ["pro"]}.'
        )
    unknown = sorted(set(raw) - _FILTER_FIELDS)
    if unknown:
        raise refuse(unknown[0], "not a field of a property condition (key, operator, value, type).")
    if raw.get("type", "event") != "event":
        raise refuse("type", f"only event properties can be used (type 'event'), not {raw['type']!r}.")
    key = raw.get("key")
    if not isinstance(key, str) or not key.strip():
        raise refuse("key", "give the event property's name, e.g. 'plan'.")
    if not plain_text(key):
        raise refuse("key", PLAIN_TEXT)
    # PostHog's own default when a filter has no operator (posthog/hogql/property.py).
    operator_name = raw.get("operator", "exact")
    try:
        operator = Operator(operator_name)
    except ValueError:
        names = ", ".join(op.value for op in Operator)
        raise refuse("operator", f"{operator_name!r} is not one of {names}.") from None
    if operator in _WITHOUT_VALUE:
        return PropertyFilter(key=key, operator=operator)  # PostHog ignores the value ("is_set")
    return PropertyFilter(key=key, operator=operator, values=_values(raw.get("value"), operator, refuse))


def _values(raw: Any, operator: Operator, refuse) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    if raw is None or not items:
        raise refuse("value", f'{operator} needs a value or a list of values, e.g. ["pro", "team"].')
    if len(items) > MAX_VALUES:
        raise refuse("value", f"at most {MAX_VALUES} values.")
    texts = []
    for item in items:
        if operator in (Operator.ICONTAINS, Operator.NOT_ICONTAINS) and not isinstance(item, str):
            raise refuse("value", f"{operator} compares text: give strings, not {item!r}.")
        if not isinstance(item, str | int | float) or item != item or item in (float("inf"), float("-inf")):
            raise refuse("value", f"{item!r} is not a property value: give strings, numbers or booleans.")
        # A number or boolean compares as the text HogQL reads for it (True reads "true", as PostHog
        # turns a boolean filter value into "true").
        text = item if isinstance(item, str) else property_text(item)
        if not plain_text(text):
            raise refuse("value", PLAIN_TEXT)
        texts.append(text)
    return tuple(dict.fromkeys(texts))


def plain_text(text: str, *, limit: int = MAX_TEXT) -> bool:
    """Whether `text` fits a definition: at most `limit` characters, no control characters (they
    would need escapes in HogQL that not every PostHog version reads alike)."""
    return len(text) <= limit and not any(ord(char) < 0x20 or ord(char) == 0x7F for char in text)
