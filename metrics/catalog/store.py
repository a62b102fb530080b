"""Reading and writing metric definitions; every write is checked with all the others first."""

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from metrics.core.definitions import (
    BUILT_IN_KEYS,
    Kind,
    MetricDefinition,
    built_ins,
    check_together,
    merged,
    parse_definition,
    parse_document,
    to_document,
)
from metrics.core.errors import InvalidMetricDefinition
from metrics.models import Metric

# A definition's attributes under their names in the file, for saying what an import changes.
_FILE_NAMES = {"sum_property": "property"}


@dataclasses.dataclass(frozen=True)
class ImportPlan:
    """What an import did, or (dry run) would do, by key; `updated` names the fields that change."""

    created: tuple[str, ...]
    updated: tuple[tuple[str, tuple[str, ...]], ...]
    unchanged: tuple[str, ...]
    dry_run: bool


def stored() -> tuple[MetricDefinition, ...]:
    """Every metric, the built-ins included (as today's settings define them), in display order."""
    return _read(Metric.objects.all())


@dataclasses.dataclass(frozen=True)
class Counted:
    """A metric PostHog counts (count, unique or sum, not a built-in) and its row's id, which its
    MetricValue rows point to."""

    id: int
    definition: MetricDefinition


def counted() -> tuple[Counted, ...]:
    """The user-defined count, unique and sum metrics, in display order (no ratios, no built-ins)."""
    rows = Metric.objects.exclude(kind=Kind.RATIO).exclude(key__in=BUILT_IN_KEYS)
    return tuple(Counted(row.id, parse_definition(_raw(row))) for row in rows)


def save(definition: MetricDefinition) -> None:
    """Create or update `definition` by key, once it checks together with the stored ones;
    raises InvalidMetricDefinition (and saves nothing) otherwise."""
    with transaction.atomic():
        current = _read(Metric.objects.select_for_update())
        check_together(merged(current, [definition]))
        _write(definition, old=next((d for d in current if d.key == definition.key), None))


def delete(key: str) -> None:
    """Delete the metric `key` and its stored numbers. Raises InvalidMetricDefinition (and deletes
    nothing) when `deletion_refused` says why not, or when no metric has this key."""
    with transaction.atomic():
        current = _read(Metric.objects.select_for_update())
        refusal = _refusal(key, current)
        if refusal is not None:
            raise refusal
        deleted, _ = Metric.objects.filter(key=key).delete()
        if not deleted:
            raise InvalidMetricDefinition("there is no metric with this key.", metric=repr(key), field="key")


def deletion_refused(key: str) -> InvalidMetricDefinition | None:
    """Why the metric `key` cannot be deleted (a built-in; a ratio's numerator or denominator,
    naming the ratio), or None."""
    return _refusal(key, stored())


def _refusal(key: str, current: Iterable[MetricDefinition]) -> InvalidMetricDefinition | None:
    if key in BUILT_IN_KEYS:
        return InvalidMetricDefinition(
            f"{key!r} is built in and cannot be deleted (untick in_admin_list and in_report to hide it).",
            metric=repr(key),
            field="key",
        )
    ratios = [d.key for d in current if d.kind is Kind.RATIO and key in (d.numerator, d.denominator)]
    if ratios:
        return InvalidMetricDefinition(
            f"the ratio {ratios[0]!r} uses {key!r}; delete or change that ratio first.",
            metric=repr(key),
            field="key",
        )
    return None


def import_document(document: Any, *, dry_run: bool) -> ImportPlan:
    """Create or update every metric of `document` (`{"metrics": [...]}`) by key, in one
    transaction; metrics it does not name stay as they are. Raises InvalidMetricDefinition
    (and changes nothing) if any definition is invalid, alone or together with the stored ones."""
    with transaction.atomic():
        current = _read(Metric.objects.select_for_update())
        incoming = parse_document(document, existing=current)
        by_key = {definition.key: definition for definition in current}
        created, updated, unchanged = [], [], []
        for definition in incoming:
            old = by_key.get(definition.key)
            if old is None:
                created.append(definition.key)
            elif old == definition:
                unchanged.append(definition.key)
            else:
                updated.append((definition.key, _changed_fields(old, definition)))
        if not dry_run:
            for definition in incoming:
                if definition.key not in unchanged:
                    _write(definition, old=by_key.get(definition.key))
    return ImportPlan(tuple(created), tuple(updated), tuple(unchanged), dry_run)


def export_document() -> dict[str, Any]:
    """Every stored metric as a file that `import_document` reads back to the same definitions."""
    return to_document(stored())


def _read(rows: Iterable[Metric]) -> tuple[MetricDefinition, ...]:
    definitions = [parse_definition(_raw(row)) for row in rows]
    keys = {definition.key for definition in definitions}
    # A built-in row can only be missing if someone deleted it; the metric itself still exists.
    missing = [definition for definition in built_ins() if definition.key not in keys]
    return (*missing, *definitions)


def _raw(row: Metric) -> dict[str, Any]:
    """A row in the file's shape, so that it is read (and checked) like any definition."""
    raw: dict[str, Any] = {
        "key": row.key,
        "name": row.name,
        "kind": row.kind,
        "unit": row.unit,
        "better": row.better,
        "in_report": row.in_report,
        "in_admin_list": row.in_admin_list,
        "order": row.order,
    }
    if row.kind == Kind.RATIO:
        raw |= {"numerator": row.numerator, "denominator": row.denominator}
    elif row.events:  # a built-in row has none: its events come from the settings
        raw |= {"events": row.events, "properties": row.properties}
    if row.kind == Kind.SUM:
        raw["property"] = row.sum_property
    for name in ("target", "drop_alert"):
        if getattr(row, name) is not None:
            raw[name] = getattr(row, name)
    return raw


def pending_restatement() -> tuple[str, ...]:
    """Keys of the metrics whose counting was defined or changed since the last sync of every
    week: their stored weeks hold the old definition's numbers (or none) until that sync."""
    return tuple(Metric.objects.filter(restate_since__isnull=False).values_list("key", flat=True))


def mark_restated(*, counted_before: dt.datetime) -> None:
    """A sync of every week that started at `counted_before` counted the definitions stored then."""
    Metric.objects.filter(restate_since__lte=counted_before).update(restate_since=None)


def _write(definition: MetricDefinition, *, old: MetricDefinition | None) -> None:
    """Create or update `definition`'s row; `old`: the stored definition of its key (read, locked,
    by the caller), None for a new one."""
    # A ratio is computed from stored numbers when read: nothing of it waits for a sync.
    counts_anew = (
        not definition.built_in
        and definition.kind is not Kind.RATIO
        and (old is None or _counting(old) != _counting(definition))
    )
    Metric.objects.update_or_create(
        key=definition.key,
        defaults={
            "name": definition.name,
            "kind": str(definition.kind),
            "events": [] if definition.built_in else list(definition.events),
            "properties": [condition.to_json() for condition in definition.properties],
            "sum_property": definition.sum_property or "",
            "numerator": definition.numerator or "",
            "denominator": definition.denominator or "",
            "unit": definition.unit,
            "target": definition.target,
            "better": str(definition.better),
            "in_report": definition.in_report,
            "in_admin_list": definition.in_admin_list,
            "order": definition.order,
            "drop_alert": definition.drop_alert,
            **({"restate_since": timezone.now()} if counts_anew else {}),
        },
    )


def _counting(definition: MetricDefinition) -> tuple:
    """What decides a metric's stored numbers (not how they are shown)."""
    return (
        definition.kind,
        definition.events,
        definition.properties,
        definition.sum_property,
    )


def _changed_fields(old: MetricDefinition, new: MetricDefinition) -> tuple[str, ...]:
    return tuple(
        _FILE_NAMES.get(field.name, field.name)
        for field in dataclasses.fields(MetricDefinition)
        if getattr(old, field.name) != getattr(new, field.name)
    )
