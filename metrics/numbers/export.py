"""The weekly numbers as they leave visitorsync: the one row layout of the stats API's JSON and
of every CSV (`GET /api/stats/weekly?format=csv`, the admin's "Export selected weeks as CSV"
and its "Export as CSV" link all write these columns, in this order)."""

import csv
import io
from collections.abc import Iterable
from typing import Any

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
    }


def write_csv(rows: Iterable[Week]) -> str:
    """The CSV of `rows`: RFC 4180 (CRLF, quoted where needed), a header row, ISO dates,
    empty cells for nulls and `true`/`false` for flags."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        values = week_json(row)
        writer.writerow([_cell(values[column]) for column in COLUMNS])
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
