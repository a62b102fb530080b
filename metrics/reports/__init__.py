"""Reports and alerts: the weekly email and the messages when something goes wrong.

Inside: `weekly.py` (the report's numbers), `mail.py` (rendering and sending),
`alerts.py` (the alert state machine), `alert_webhook.py` (the outgoing alert webhook).
Their errors (`ReportError` and its subclasses, in `metrics.core.errors`) are re-exported here.
"""

from metrics.core.errors import (
    MailNotConfigured,
    NoSuchWeek,
    ReportError,
    ReportNotConfigured,
    ReportNotSent,
    WebhookNotSent,
)
from metrics.reports.alerts import check, check_after_sync, send_test_alert
from metrics.reports.mail import ReportResult, mail_problem, render_report, send_weekly_report
from metrics.reports.weekly import WeeklyReport, build_report, last_complete_week

__all__ = [
    "MailNotConfigured",
    "NoSuchWeek",
    "ReportError",
    "ReportNotConfigured",
    "ReportNotSent",
    "ReportResult",
    "WebhookNotSent",
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
