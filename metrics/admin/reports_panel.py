"""The sync page's "Reports and alerts" panel: settings, last report, alert history, test buttons.

The buttons are doors into `metrics.jobs` and `metrics.reports`, wired up by
`WeeklyMetricAdmin.get_urls`; they need `metrics.sync_weeklymetric` and POST.
"""

from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from metrics import jobs, reports
from metrics.admin.buttons import sync_button
from metrics.admin.metric_text import target_text
from metrics.core import schedule
from metrics.core.definitions import MetricDefinition
from metrics.models import Alert, ReportDelivery
from metrics.presentation import report_queued_summary
from metrics.reports import alert_webhook

ALERT_HISTORY = 10


class ReportsPanel:
    """The panel's two test buttons, for the WeeklyMetric admin (its permissions and messages)."""

    def __init__(self, model_admin: admin.ModelAdmin):
        self.model_admin = model_admin

    @sync_button
    def test_report_view(self, request: HttpRequest) -> HttpResponse:
        """POST: send the last complete week's report now, marked as a test, to every recipient."""
        model_admin = self.model_admin
        after = jobs.AfterAnswer()  # the mail goes out once the page has its answer
        try:
            plan = jobs.queue_weekly_report(after=after, test=True)
        except reports.ReportError as err:
            model_admin.message_user(request, f"The test report was not sent. {err}", messages.ERROR)
        else:
            model_admin.message_user(request, f"Test report: {report_queued_summary(plan)}", messages.SUCCESS)
        return after.attach(redirect("admin:metrics_weeklymetric_sync"))

    @sync_button
    def test_alert_view(self, request: HttpRequest) -> HttpResponse:
        """POST: send a test alert on every configured channel and say how each went."""
        model_admin = self.model_admin
        results = reports.send_test_alert()
        if not results:
            model_admin.message_user(
                request,
                "No alert channel is configured: set VISITORSYNC_ALERT_RECIPIENTS or "
                "VISITORSYNC_ALERT_WEBHOOK_URL.",
                messages.WARNING,
            )
        for channel, outcome in results.items():
            if outcome == "sent":
                model_admin.message_user(request, f"Test alert sent by {channel}.", messages.SUCCESS)
            else:
                model_admin.message_user(request, f"Test alert not sent. {outcome}", messages.ERROR)
        return redirect("admin:metrics_weeklymetric_sync")


def panel_context(definitions: tuple[MetricDefinition, ...]) -> dict:
    """The panel's part of the sync page's context (`definitions`: `catalog.stored()`)."""
    last = ReportDelivery.objects.filter(status=ReportDelivery.Status.SENT).first()
    return {
        "report_settings": [*_settings(), *_metric_watches(definitions)],
        "last_report": last,
        # Everyone that week's last send reached (the same forced flag: one send of it).
        "last_report_recipients": (
            ReportDelivery.objects.filter(
                week_start=last.week_start, forced=last.forced, status=ReportDelivery.Status.SENT
            )
            .order_by("recipient")
            .values_list("recipient", flat=True)
            .distinct()
            if last
            else []
        ),
        "report_failures": ReportDelivery.objects.filter(status=ReportDelivery.Status.FAILED).count(),
        "alert_history": Alert.objects.prefetch_related("deliveries")[:ALERT_HISTORY],
    }


def mail_display() -> str:
    """The mail server without user or password: backend, host and port, TLS."""
    if not settings.EMAIL_CONFIGURED:
        return "not set: no mail is sent"
    backend = settings.EMAIL_BACKEND.rsplit(".", 2)[-2]
    if backend != "smtp":
        return f"{backend} (messages are not delivered to a mail server)"
    security = " with TLS" if settings.EMAIL_USE_TLS else " with SSL" if settings.EMAIL_USE_SSL else ""
    return f"SMTP at {settings.EMAIL_HOST}:{settings.EMAIL_PORT}{security}"


def _settings() -> list[tuple[str, str]]:
    report_to = settings.VISITORSYNC_REPORT_RECIPIENTS
    alert_to = settings.VISITORSYNC_ALERT_RECIPIENTS
    return [
        ("EMAIL_URL", mail_display()),
        ("DEFAULT_FROM_EMAIL", settings.DEFAULT_FROM_EMAIL),
        ("VISITORSYNC_REPORT_RECIPIENTS", ", ".join(report_to) or "nobody: no weekly report"),
        (
            "VISITORSYNC_REPORT_SCHEDULE",
            schedule.in_words(settings.VISITORSYNC_REPORT_SCHEDULE)
            or "no crontab job (cron endpoint or command only)",
        ),
        ("VISITORSYNC_ALERT_RECIPIENTS", ", ".join(alert_to) or "nobody: no alert mail"),
        ("VISITORSYNC_ALERT_WEBHOOK_URL", alert_webhook.webhook_display() or "not set: no alert webhook"),
        ("VISITORSYNC_ALERT_QUIET_HOURS", f"{settings.VISITORSYNC_ALERT_QUIET_HOURS:g} hours"),
        ("VISITORSYNC_ALERT_DROP", f"{settings.VISITORSYNC_ALERT_DROP * 100:g}% fewer visitors"),
        ("VISITORSYNC_BASE_URL", settings.VISITORSYNC_BASE_URL or "not set: links are paths only"),
    ]


def _metric_watches(definitions: tuple[MetricDefinition, ...]) -> list[tuple[str, str]]:
    """A line per metric with a drop alert or a target: what is watched, as the alerts watch it."""
    lines = []
    for definition in definitions:
        watches = []
        if definition.drop_alert is not None:
            watches.append(f"drop alert {definition.drop_alert * 100:g}%")
        if definition.target is not None:
            watches.append(f"target {target_text(definition, per_week=True)}")
        if watches:
            lines.append((definition.name, "; ".join(watches)))
    return lines
