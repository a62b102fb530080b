"""Reports and alerts: the weekly email and the messages when something goes wrong.

Doors: `manage.py send_weekly_report`, the crontab job `metrics.cron.weekly_report_job` and
the cron endpoint's `report=1` call `send_weekly_report`; the admin sync page's buttons call
`send_weekly_report(test=True)` and `send_test_alert`; the tracker calls
`alerts.check_after_sync` after every sync. Inside: `weekly.py` (the numbers), `mail.py`
(rendering and sending), `alerts.py` (the alert state machine), `notify.py` (the webhook).
"""

from metrics.reports import alerts
from metrics.reports.alerts import check, check_after_sync, send_test_alert
from metrics.reports.errors import NoSuchWeek, ReportError, ReportNotConfigured, ReportNotSent
from metrics.reports.mail import ReportResult, mail_problem, render_report
from metrics.reports.mail import send_weekly_report as _send_weekly_report
from metrics.reports.weekly import WeeklyReport, build_report, last_complete_week


def send_weekly_report(**kwargs) -> ReportResult:
    """`mail.send_weekly_report`, then the alert check (a report run checks them too)."""
    try:
        return _send_weekly_report(**kwargs)
    finally:
        if not kwargs.get("dry_run"):
            alerts.check_after_sync()


__all__ = [
    "NoSuchWeek",
    "ReportError",
    "ReportNotConfigured",
    "ReportNotSent",
    "ReportResult",
    "WeeklyReport",
    "build_report",
    "check",
    "check_after_sync",
    "last_complete_week",
    "mail_problem",
    "render_report",
    "send_test_alert",
    "send_weekly_report",
]
