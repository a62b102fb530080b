"""The per-metric alert conditions: a sharp drop (a metric's `drop_alert`) and off target
(a metric's `target`), each judged on the last complete week, one alert per metric and kind.

A drop is judged like VISITORSYNC_ALERT_DROP for visitors: the week's number fell from the
week before by more than the share. Off target: below the target when higher is better, above
it when lower is. A week that is not stored, or a ratio over 0, alerts nothing. An open alert of
a metric no longer watched (deleted, its drop alert or target removed) clears.
"""

import dataclasses
import datetime as dt
from collections.abc import Iterable

from django.urls import reverse

from metrics import numbers
from metrics.core.definitions import Better, MetricDefinition
from metrics.models import Alert
from metrics.reports.weekly import admin_url


@dataclasses.dataclass(frozen=True)
class Condition:
    """An alert kind (and, per metric, the metric's key as `subject`), whether it holds now, and
    its message when it does."""

    kind: str
    active: bool
    message: str = ""
    subject: str = ""


def metric_conditions(
    table: numbers.WeekTable, week_start: dt.date, *, open_alerts: Iterable[tuple[str, str]]
) -> list[Condition]:
    """The per-metric conditions of the week `week_start` read in `table` (with its week before);
    `open_alerts`: the (kind, subject) of every open per-metric alert."""
    week = table.week(week_start)
    found = []
    for definition in table.definitions:
        if definition.drop_alert is not None:
            message = _drop(definition, week) if week is not None else None
            found.append(_condition(Alert.Kind.METRIC_DROP, definition.key, message))
        if definition.target is not None:
            message = _off_target(definition, week) if week is not None else None
            found.append(_condition(Alert.Kind.OFF_TARGET, definition.key, message))
    watched = {(condition.kind, condition.subject) for condition in found}
    found += [
        Condition(kind, False, subject=subject)
        for kind, subject in open_alerts
        if (kind, subject) not in watched
    ]
    return found


def _condition(kind: str, subject: str, message: str | None) -> Condition:
    return Condition(kind, message is not None, message or "", subject)


def _drop(definition: MetricDefinition, week: numbers.Week) -> str | None:
    key, unit, kind = definition.key, definition.unit, definition.kind
    change = week.change(key)
    share = definition.drop_alert
    if change is None or -change <= share:
        return None
    return (
        f"{definition.name} ({key}) in the week of {week.week_start} fell to "
        f"{numbers.format_value(week.value(key), unit, kind=kind)} from "
        f"{numbers.format_value(week.previous(key), unit, kind=kind)} the week before "
        f"({change * 100:+.0f}%, more than its drop alert of {share:g}). {_weeks_link()}"
    )


def _off_target(definition: MetricDefinition, week: numbers.Week) -> str | None:
    key, unit, target = definition.key, definition.unit, definition.target
    value = week.value(key)
    if value is None:
        return None
    higher = definition.better is Better.HIGHER
    if (value >= target) if higher else (value <= target):
        return None
    where = "below" if higher else "above"
    return (
        f"{definition.name} ({key}) in the week of {week.week_start} was "
        f"{numbers.format_value(value, unit, kind=definition.kind)}, {where} its target of "
        f"{numbers.format_value(target, unit, kind=definition.kind)} ({definition.better} is better). "
        f"{_weeks_link()}"
    )


def _weeks_link() -> str:
    return f"Weeks: {admin_url(reverse('admin:metrics_weeklymetric_changelist'))}"
