"""A sync run's changes of the user-defined metrics, in words, for a run's page and the sync
page's "Largest changes" (the dry-run diff among them).

A run keeps each moved metric by key with its numbers before and after (`WeekChange.metrics`);
here each gets its name and is written in its unit, from the definitions as stored now, read
once per page by the caller. A metric deleted since keeps its key as its name, a plain number.
"""

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe

from metrics.admin.metric_text import formatted
from metrics.core.definitions import Kind, MetricDefinition
from metrics.tracker import WeekChange


@dataclasses.dataclass(frozen=True)
class MetricChange:
    key: str
    name: str
    before: str  # in the metric's unit
    after: str


def by_key(definitions: Iterable[MetricDefinition]) -> dict[str, MetricDefinition]:
    return {definition.key: definition for definition in definitions}


def metric_changes(change: WeekChange, definitions: Mapping[str, MetricDefinition]) -> list[MetricChange]:
    """The user-defined metrics that moved in the week of `change`, in display order (a metric
    deleted since last)."""
    order = {key: index for index, key in enumerate(definitions)}
    found = []
    for key, before, after in sorted(
        change.metrics, key=lambda item: (order.get(item[0], len(order)), item[0])
    ):
        definition = definitions.get(key)
        unit, kind = (definition.unit, definition.kind) if definition else ("number", Kind.COUNT)
        found.append(
            MetricChange(
                key=key,
                name=definition.name if definition else key,
                before=formatted(before, unit=unit, kind=kind),
                after=formatted(after, unit=unit, kind=kind),
            )
        )
    return found


def change_rows(
    changes: Sequence[WeekChange], definitions: Sequence[MetricDefinition]
) -> list[tuple[WeekChange, list[MetricChange]]]:
    """Each change with its metrics' changes in words."""
    keyed = by_key(definitions)
    return [(change, metric_changes(change, keyed)) for change in changes]


def cell(moved: Sequence[MetricChange]) -> SafeString:
    """One table cell's content: a line per metric, "Signups: 3 → 5"."""
    return format_html_join(
        mark_safe("<br>"),
        '<span class="vs-nowrap" title="{}">{}: {} → {}</span>',
        ((m.key, m.name, m.before, m.after) for m in moved),
    )
