"""What a metric is: `MetricDefinition`, read from its JSON shape and written back to it.

One shape for the admin, `manage.py import_metrics` and `export_metrics` (docs/configuration.md,
"Your own metrics"). `parse_definition` and `parse_document` refuse what cannot work with an
InvalidMetricDefinition naming the metric and the field; `check_together` refuses what only a
set of metrics can get wrong (a key twice, a ratio of a metric that does not exist).

The built-in metrics `visitors` (distinct persons) and `pageviews` (events) count the events of
VISITORSYNC_EVENT: their events always come from that setting, so a document may leave them
out, and an export does.
"""

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from metrics.core import counting
from metrics.core.definition_fields import (
    BUILT_IN_KEYS,
    KEY,
    MAX_METRICS,
    RESERVED_KEYS,
    Better,
    BuiltIn,
    FieldReader,
    Kind,
)
from metrics.core.errors import InvalidMetricDefinition
from metrics.core.properties import PropertyFilter

__all__ = ["BUILT_IN_KEYS", "RESERVED_KEYS", "Better", "Kind", "MetricDefinition"]


@dataclasses.dataclass(frozen=True)
class MetricDefinition:
    """One metric. `sum_property` is the file's `property`; `unit` is "number", "percent"
    (ratios) or a currency code like "EUR"; `drop_alert` a share (0.5: alert when it halves)."""

    key: str
    name: str
    kind: Kind
    events: tuple[str, ...] = ()
    properties: tuple[PropertyFilter, ...] = ()
    sum_property: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    unit: str = "number"
    target: float | None = None
    better: Better = Better.HIGHER
    in_report: bool = True
    in_admin_list: bool = True
    order: int = 0
    drop_alert: float | None = None

    @property
    def built_in(self) -> bool:
        return self.key in BUILT_IN_KEYS

    def to_json(self) -> dict[str, Any]:
        """The definition in the file's shape; `parse_definition` reads it back to an equal one."""
        body: dict[str, Any] = {"key": self.key, "name": self.name, "kind": str(self.kind)}
        if self.kind is not Kind.RATIO and not self.built_in:
            body["events"] = list(self.events)
            if self.properties:
                body["properties"] = [condition.to_json() for condition in self.properties]
        if self.kind is Kind.SUM:
            body["property"] = self.sum_property
        if self.kind is Kind.RATIO:
            body |= {"numerator": self.numerator, "denominator": self.denominator}
        body["unit"] = self.unit
        if self.target is not None:
            body["target"] = int(self.target) if self.target.is_integer() else self.target
        body |= {
            "better": str(self.better),
            "in_report": self.in_report,
            "in_admin_list": self.in_admin_list,
            "order": self.order,
        }
        if self.drop_alert is not None:
            body["drop_alert"] = self.drop_alert
        return body


def built_ins() -> tuple[MetricDefinition, MetricDefinition]:
    """`visitors` and `pageviews` as today's settings define them."""
    events = counting.event_names()
    return (
        MetricDefinition(key="visitors", name="Visitors", kind=Kind.UNIQUE, events=events),
        MetricDefinition(key="pageviews", name="Pageviews", kind=Kind.COUNT, events=events),
    )


def parse_definition(raw: Any, *, position: int | None = None) -> MetricDefinition:
    """A definition from its JSON shape. `position` (0-based) names a metric without a usable
    key in messages ("#3"). Raises InvalidMetricDefinition."""
    label = f"#{position + 1}" if position is not None else "(new)"
    if not isinstance(raw, dict):
        raise InvalidMetricDefinition(
            'a metric is an object like {"key": "signups", "name": "Signups", "kind": "count", '
            '"events": ["signed_up"]}.',
            metric=label,
            field="(metric)",
        )
    key = raw.get("key")
    if isinstance(key, str) and KEY.fullmatch(key):
        label = repr(key)
    built_in = next((BuiltIn(d.key, d.kind, d.events) for d in built_ins() if d.key == key), None)
    return MetricDefinition(**FieldReader(raw, label, built_in=built_in).fields())


def parse_document(raw: Any, *, existing: Iterable[MetricDefinition] = ()) -> tuple[MetricDefinition, ...]:
    """The definitions of a file `{"metrics": [...]}`, checked together with `existing` (the
    stored ones; the built-ins when none are given), which the file's keys replace."""
    if not isinstance(raw, dict) or set(raw) != {"metrics"} or not isinstance(raw["metrics"], list):
        raise InvalidMetricDefinition(
            'a metrics file is an object with one field, "metrics": a list of metric definitions.',
            metric="(file)",
            field="metrics",
        )
    parsed = tuple(parse_definition(item, position=index) for index, item in enumerate(raw["metrics"]))
    seen: set[str] = set()
    for definition in parsed:
        if definition.key in seen:
            raise InvalidMetricDefinition(
                "this key appears twice in the file.", metric=repr(definition.key), field="key"
            )
        seen.add(definition.key)
    check_together(merged(tuple(existing) or built_ins(), parsed))
    return parsed


def merged(
    existing: Iterable[MetricDefinition], incoming: Iterable[MetricDefinition]
) -> list[MetricDefinition]:
    """`existing` with each of `incoming` replacing the one of the same key, new ones last."""
    result = {definition.key: definition for definition in existing}
    result.update((definition.key, definition) for definition in incoming)
    return list(result.values())


def check_together(definitions: Sequence[MetricDefinition]) -> None:
    """Raises InvalidMetricDefinition unless the keys are unique, both built-ins are there, and
    each ratio divides two metrics that exist and are not ratios themselves."""
    by_key: dict[str, MetricDefinition] = {}
    for definition in definitions:
        if definition.key in by_key:
            raise InvalidMetricDefinition(
                "two metrics have this key.", metric=repr(definition.key), field="key"
            )
        by_key[definition.key] = definition
    for key in BUILT_IN_KEYS:
        if key not in by_key:
            raise InvalidMetricDefinition("the built-in metric is missing.", metric=repr(key), field="key")
    if len(by_key) > MAX_METRICS:
        raise InvalidMetricDefinition(
            f"at most {MAX_METRICS} metrics in all.", metric=repr(definitions[-1].key), field="key"
        )
    for definition in definitions:
        if definition.kind is not Kind.RATIO:
            continue
        for field in ("numerator", "denominator"):
            operand = getattr(definition, field)
            target = by_key.get(operand)
            if target is None:
                detail = f"there is no metric {operand!r}."
            elif target.kind is Kind.RATIO:
                detail = f"{operand!r} is a ratio itself; a ratio divides two counts, uniques or sums."
            else:
                continue
            raise InvalidMetricDefinition(detail, metric=repr(definition.key), field=field)


def to_document(definitions: Iterable[MetricDefinition]) -> dict[str, Any]:
    """The file for `definitions`, in their order; `parse_document` reads it back to equal ones."""
    return {"metrics": [definition.to_json() for definition in definitions]}
