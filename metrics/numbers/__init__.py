"""The read model: a week's numbers and every fact derived from them, defined once.

Inside: `week.py` (`Week`: value, change from the week before, the same week last year,
confirmed, in progress, the prorated "so far" comparison; looked up by metric name),
`table.py` (reading stored weeks with their neighbours in a fixed number of queries),
`headline.py` (the admin's headline figures), `export.py` (the one JSON row and CSV layout),
`per_metric.py` (every metric's number of a week: built-ins, MetricValue rows, ratios),
`units.py` (a number as text in its metric's unit).

Who reads what: the stats API (`metrics.http.stats_api`) `read_weeks` + `export`; the admin
list (`metrics.admin.weekly_list`) `read_weeks` for its rows and CSV exports, `headline`;
the chart (`metrics.admin.chart`) `read_range`; the weekly report and the drop alert
(`metrics.reports`) `read_range`.
"""

from metrics.numbers.export import COLUMNS, csv_filename, metric_columns, week_json, write_csv
from metrics.numbers.headline import Figure, Headline, headline, percent_text
from metrics.numbers.per_metric import ratio, typed
from metrics.numbers.table import WeekTable, read_range, read_weeks, weeks_between
from metrics.numbers.units import format_value
from metrics.numbers.week import (
    METRICS,
    YEAR_BEFORE,
    Week,
    change_between,
    elapsed_share,
    same_week_last_year,
    week_before,
    week_end,
)

__all__ = [
    "COLUMNS",
    "METRICS",
    "YEAR_BEFORE",
    "Figure",
    "Headline",
    "Week",
    "WeekTable",
    "change_between",
    "csv_filename",
    "elapsed_share",
    "format_value",
    "headline",
    "metric_columns",
    "percent_text",
    "ratio",
    "read_range",
    "read_weeks",
    "same_week_last_year",
    "typed",
    "week_before",
    "week_end",
    "week_json",
    "weeks_between",
    "write_csv",
]
