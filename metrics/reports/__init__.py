"""Reports and alerts: the weekly email and the messages when something goes wrong.

Inside: `weekly.py` (the report's numbers), `mail.py` (rendering and sending),
`alerts.py` (the alert state machine), `alert_webhook.py` (the outgoing alert webhook).
"""

from metrics.reports.alerts import check, check_after_sync, send_test_alert
from metrics.reports.errors import NoSuchWeek, ReportError, ReportNotConfigured, ReportNotSent
from metrics.reports.mail import ReportResult, mail_problem, render_report, send_weekly_report
from metrics.reports.weekly import WeeklyReport, build_report, last_complete_week

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
