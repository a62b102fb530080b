"""The weekly numbers as they leave visitorsync: the one row layout of the stats API's JSON and
of every CSV (`GET /api/stats/weekly?format=csv`, the admin's "Export selected weeks as CSV"
and its "Export as CSV" link all write these columns, in this order).

The CSV's columns are `COLUMNS`, then one per user-defined metric named by its key, in
display order (the built-ins are `visitors` and `pageviews` already). Each JSON item carries
`metrics`: every metric's number by key, built-ins included (metrics.numbers.per_metric says
how each is typed; null for a ratio over 0)."""

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from metrics import catalog
from metrics.core.definitions import MetricDefinition
from metrics.numbers.week import Week

COLUMNS = (
    "week_start",
    "week_end",
    "visitors",
    "pageviews",
    "visitors_change",
    "visitors_last_year",
    "confirmed",
    "in_progress",
    "synced_at",
)


def week_json(week: Week) -> dict[str, Any]:
    """One week as the API and the exports give it."""
    return {
        "week_start": week.week_start.isoformat(),
        "week_end": week.week_end.isoformat(),
        "visitors": week.value("visitors"),
        "pageviews": week.value("pageviews"),
        "visitors_change": week.change("visitors"),
        "visitors_last_year": week.last_year("visitors"),
        "confirmed": week.confirmed,
        "in_progress": week.in_progress,
        "synced_at": week.synced_at.isoformat() if week.synced_at else None,
        "metrics": dict(week.metrics),
    }


def metric_columns(definitions: Iterable[MetricDefinition]) -> tuple[str, ...]:
    """The CSV's columns after `COLUMNS`: the user-defined metrics' keys, in display order."""
    return tuple(definition.key for definition in definitions if not definition.built_in)


def write_csv(rows: Iterable[Week], *, definitions: Sequence[MetricDefinition] | None = None) -> str:
    """The CSV of `rows`: RFC 4180 (CRLF, quoted where needed), a header row, ISO dates,
    empty cells for nulls and `true`/`false` for flags. `definitions`: the metrics the rows
    were read with (`WeekTable.definitions`); read from the catalog when not given."""
    keys = metric_columns(catalog.stored() if definitions is None else definitions)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow((*COLUMNS, *keys))
    for row in rows:
        values = week_json(row)
        writer.writerow(
            [_cell(values[column]) for column in COLUMNS]
            + [_cell(values["metrics"].get(key)) for key in keys]
        )
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_filename(rows: list[Week]) -> str:
    if not rows:
        return "weekly-stats.csv"
    return f"weekly-stats-{rows[0].week_start.isoformat()}-to-{rows[-1].week_start.isoformat()}.csv"
