"""The weekly report as a door sends it: the report, then the alert check (a report run checks
them too)."""

import datetime as dt

from metrics import reports
from metrics.reports import alerts


def send_weekly_report(
    *,
    week_start: dt.date | None = None,
    dry_run: bool = False,
    force: bool = False,
    test: bool = False,
) -> reports.ReportResult:
    """`reports.send_weekly_report`, then the alert check unless it is a dry run; raises what it
    raises (the check runs all the same)."""
    try:
        return reports.send_weekly_report(week_start=week_start, dry_run=dry_run, force=force, test=test)
    finally:
        if not dry_run:
            alerts.check_after_sync()
