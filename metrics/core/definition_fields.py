"""The fields of a metric definition, read one by one from its JSON shape and checked.

metrics.core.definitions builds a MetricDefinition from what `FieldReader.fields` returns; every
refusal is an InvalidMetricDefinition naming the metric and the field, with what to write instead.
"""

import dataclasses
import enum
import math
import re
from typing import Any

from metrics.core.errors import InvalidMetricDefinition
from metrics.core.properties import MAX_TEXT, PLAIN_TEXT, PropertyFilter, parse_filter, plain_text

KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
BUILT_IN_KEYS = ("visitors", "pageviews")
# Keys that would clash elsewhere: the columns of the API's JSON and CSV (metrics.numbers.export),
# the grouped query's `week`, and fields of PostHog's events table that a column alias of that name
# would hide from the query and from the project's "internal and test users" filters.
RESERVED_KEYS = frozenset(
    {
        "week_start", "week_end", "visitors_change", "visitors_last_year", "confirmed", "in_progress",
        "synced_at", "metrics", "week", "event", "timestamp", "person_id", "person", "properties",
        "uuid", "distinct_id", "elements_chain", "created_at", "team_id", "session", "pdi", "poe",
    }
)  # fmt: skip
MAX_EVENTS = 20
MAX_PROPERTIES = 20
MAX_METRICS = 50


class Kind(enum.StrEnum):
    COUNT = "count"  # matching events
    UNIQUE = "unique"  # distinct PostHog persons with a matching event
    SUM = "sum"  # a numeric property summed over matching events
    RATIO = "ratio"  # numerator / denominator, two other metrics, per week


class Better(enum.StrEnum):
    HIGHER = "higher"
    LOWER = "lower"


FIELDS = (
    "key", "name", "kind", "events", "properties", "property", "numerator", "denominator", "unit",
    "target", "better", "in_report", "in_admin_list", "order", "drop_alert",
)  # fmt: skip
_CURRENCY = re.compile(r"[A-Z]{3}")
_SUMMED = "the numeric event property a sum adds up, e.g. 'amount'"


@dataclasses.dataclass(frozen=True)
class BuiltIn:
    key: str
    kind: Kind
    events: tuple[str, ...]


class FieldReader:
    """Reads one raw definition field by field; `refuse` names the metric and the field.

    `built_in` is the built-in metric of the same key, if any: its kind and events (from the
    settings) are the only ones allowed.
    """

    def __init__(self, raw: dict, label: str, *, built_in: BuiltIn | None) -> None:
        self.raw = raw
        self.label = label
        self.built_in = built_in

    def refuse(self, field: str, detail: str) -> InvalidMetricDefinition:
        return InvalidMetricDefinition(detail, metric=self.label, field=field)

    def fields(self) -> dict[str, Any]:
        """Every field of the definition, checked, as MetricDefinition's keyword arguments."""
        raw = self.raw
        unknown = [name for name in raw if name not in FIELDS]
        if unknown:
            raise self.refuse(str(unknown[0]), f"not a field of a metric ({', '.join(FIELDS)}).")
        key = self.key()
        kind = self.choice("kind", Kind, default=None)
        built_in = self.built_in
        if built_in is not None and kind is not built_in.kind:
            raise self.refuse("kind", f"{key} is built in: a {built_in.kind} metric (it cannot change kind).")
        self.only_for(kind, "property", Kind.SUM)
        self.only_for(kind, "numerator", Kind.RATIO)
        self.only_for(kind, "denominator", Kind.RATIO)
        if kind is Kind.RATIO:
            self.only_for(kind, "events", Kind.COUNT, Kind.UNIQUE, Kind.SUM)
            self.only_for(kind, "properties", Kind.COUNT, Kind.UNIQUE, Kind.SUM)
        events = self.events(built_in) if kind is not Kind.RATIO else ()
        return dict(
            key=key,
            name=self.text("name", limit=100, hint="the name to show, e.g. 'Signups'"),
            kind=kind,
            events=events,
            properties=self.properties(built_in) if kind is not Kind.RATIO else (),
            sum_property=self.text("property", limit=MAX_TEXT, hint=_SUMMED) if kind is Kind.SUM else None,
            numerator=self.operand("numerator") if kind is Kind.RATIO else None,
            denominator=self.operand("denominator") if kind is Kind.RATIO else None,
            unit=self.unit(kind),
            target=self.number("target", low=0.0, high=None),
            better=self.choice("better", Better, default=Better.HIGHER),
            in_report=self.flag("in_report"),
            in_admin_list=self.flag("in_admin_list"),
            order=self.order(),
            drop_alert=self.number("drop_alert", low=0.0, high=1.0, open_interval=True),
        )

    def key(self) -> str:
        key = self.raw.get("key")
        if not isinstance(key, str) or not KEY.fullmatch(key):
            what = "missing" if key is None else f"{key!r} is not a key"
            raise self.refuse(
                "key",
                f"{what}: 1 to 40 lower-case letters, digits and underscores, starting with a letter "
                "(it names the metric in the API and the CSV), e.g. 'signups'.",
            )
        if key in RESERVED_KEYS:
            raise self.refuse(
                "key", f"{key!r} is reserved (a CSV column or a PostHog field); choose another."
            )
        return key

    def text(self, field: str, *, limit: int, hint: str) -> str:
        value = self.raw.get(field)
        if not isinstance(value, str) or not value.strip():
            raise self.refuse(field, f"give {hint}.")
        if not plain_text(value, limit=limit):
            raise self.refuse(
                field, f"at most {limit} characters, without line breaks or control characters."
            )
        return value.strip() if field == "name" else value

    def choice(self, field: str, choices: type[enum.StrEnum], *, default):
        value = self.raw.get(field, default)
        names = ", ".join(choice.value for choice in choices)
        if value is None:
            raise self.refuse(field, f"missing: give one of {names}.")
        try:
            return choices(value)
        except ValueError:
            raise self.refuse(field, f"{value!r} is not one of {names}.") from None

    def only_for(self, kind: Kind, field: str, *kinds: Kind) -> None:
        if field in self.raw and kind not in kinds:
            kinds_text = " or ".join(kinds)
            raise self.refuse(
                field, f"only a {kinds_text} metric has {field}; remove it from this {kind} metric."
            )

    def events(self, built_in: BuiltIn | None) -> tuple[str, ...]:
        if built_in is not None:
            if "events" in self.raw and tuple(self.raw["events"] or ()) != built_in.events:
                detail = f"{built_in.key} counts the events of VISITORSYNC_EVENT; leave events out."
                raise self.refuse("events", detail)
            return built_in.events
        value = self.raw.get("events")
        if not isinstance(value, list) or not value:
            raise self.refuse("events", 'give one or more event names, e.g. ["signed_up"].')
        if len(value) > MAX_EVENTS:
            raise self.refuse("events", f"at most {MAX_EVENTS} events.")
        for name in value:
            if not isinstance(name, str) or not name.strip() or name != name.strip():
                detail = f"{name!r} is not an event name (a non-empty text without surrounding blanks)."
                raise self.refuse("events", detail)
            if not plain_text(name):
                raise self.refuse("events", PLAIN_TEXT)
        return tuple(dict.fromkeys(value))

    def properties(self, built_in: BuiltIn | None) -> tuple[PropertyFilter, ...]:
        value = self.raw.get("properties", [])
        if built_in is not None and value:
            raise self.refuse("properties", f"{built_in.key} is built in and takes no property conditions.")
        if not isinstance(value, list):
            raise self.refuse("properties", "give a list of property conditions (or leave it out).")
        if len(value) > MAX_PROPERTIES:
            raise self.refuse("properties", f"at most {MAX_PROPERTIES} conditions.")
        label = self.label
        return tuple(
            parse_filter(item, metric=label, field=f"properties[{n}]") for n, item in enumerate(value)
        )

    def operand(self, field: str) -> str:
        value = self.raw.get(field)
        if not isinstance(value, str) or not KEY.fullmatch(value):
            raise self.refuse(field, "give the key of another metric, e.g. 'visitors'.")
        return value

    def unit(self, kind: Kind) -> str:
        value = self.raw.get("unit", "percent" if kind is Kind.RATIO else "number")
        allowed = value == "number" or (value == "percent" and kind is Kind.RATIO)
        money = kind in (Kind.SUM, Kind.RATIO)
        allowed |= money and isinstance(value, str) and _CURRENCY.fullmatch(value) is not None
        if not allowed:
            also = (" or a currency code like 'EUR'" if money else "") + (
                " or 'percent'" if kind is Kind.RATIO else ""
            )
            raise self.refuse("unit", f"{value!r} is not a unit of a {kind} metric: use 'number'{also}.")
        return value

    def number(
        self, field: str, *, low: float, high: float | None, open_interval: bool = False
    ) -> float | None:
        value = self.raw.get(field)
        if value is None:
            return None
        in_range = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and (value > low if open_interval else value >= low)
            and (high is None or value < high)
        )
        if not in_range:
            bounds = f"between {low:g} and {high:g}" if high is not None else f"of at least {low:g}"
            raise self.refuse(field, f"{value!r} is not a number {bounds}.")
        return float(value)

    def flag(self, field: str) -> bool:
        value = self.raw.get(field, True)
        if not isinstance(value, bool):
            raise self.refuse(field, f"{value!r} is not true or false.")
        return value

    def order(self) -> int:
        value = self.raw.get("order", 0)
        if isinstance(value, bool) or not isinstance(value, int) or not -10_000 <= value <= 10_000:
            raise self.refuse("order", f"{value!r} is not a whole number from -10000 to 10000.")
        return value
