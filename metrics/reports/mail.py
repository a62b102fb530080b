"""Mail through Django's email framework: the weekly report (multipart, HTML with a text part)
and alert messages. Templates are under templates/metrics/email/."""

import dataclasses
import datetime as dt
import logging
import smtplib
import socket

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection, send_mail
from django.template.loader import render_to_string

from metrics.core.errors import MailNotConfigured, ReportNotConfigured, ReportNotSent
from metrics.core.logsafe import loggable
from metrics.models import ReportDelivery
from metrics.numbers import METRICS
from metrics.reports import claims
from metrics.reports.weekly import WeeklyReport, build_report, format_change

logger = logging.getLogger(__name__)

# What a mail server that is down, refuses or times out raises.
MAIL_ERRORS = (smtplib.SMTPException, OSError, socket.timeout)
# ReportDelivery's claim time (metrics.reports.claims): when its sender took it.
CLAIMED = "created_at"


@dataclasses.dataclass(frozen=True)
class ReportResult:
    report: WeeklyReport
    sent: list[str]  # recipients it went to now
    skipped: list[str]  # recipients who already had it
    dry_run: bool


def mail_problem() -> str:
    """Why mail cannot go out, or "" when it can."""
    if not settings.EMAIL_CONFIGURED:
        return (
            "EMAIL_URL is not set, so no mail can be sent. Set it to your mail server, for example "
            "smtp+tls://user:password@smtp.example.com:587."
        )
    return ""


def render_report(report: WeeklyReport, *, to: str, test: bool = False) -> EmailMultiAlternatives:
    """The report as one message to one recipient: a plain-text body and an HTML alternative."""
    context = {"report": report, "test": test, **_display(report)}
    subject = ("[Test] " if test else "") + report.subject
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("metrics/email/weekly_report.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )
    message.attach_alternative(render_to_string("metrics/email/weekly_report.html", context), "text/html")
    return message


def send_weekly_report(
    *,
    week_start: dt.date | None = None,
    dry_run: bool = False,
    force: bool = False,
    test: bool = False,
    recipients: list[str] | None = None,
) -> ReportResult:
    """Send the report for a week (default: the last complete one) to each report recipient once.

    A recipient who already has that week's report is skipped unless `force` (a test report
    is always forced). Raises NoSuchWeek, ReportNotConfigured (MailNotConfigured without
    EMAIL_URL), or ReportNotSent (what did go
    out is recorded; the rest is sent at the next call).
    """
    recipients = list(settings.VISITORSYNC_REPORT_RECIPIENTS if recipients is None else recipients)
    report = build_report(week_start=week_start)
    force = force or test
    if not recipients:
        raise ReportNotConfigured(
            "VISITORSYNC_REPORT_RECIPIENTS is empty, so the weekly report goes to nobody. Set it to "
            "comma-separated addresses."
        )
    week = report.week.week_start
    done = set(
        ReportDelivery.objects.filter(
            week_start=week, recipient__in=recipients, forced=False, status=ReportDelivery.Status.SENT
        ).values_list("recipient", flat=True)
    )
    pending = recipients if force else [r for r in recipients if r not in done]
    skipped = [] if force else [r for r in recipients if r in done]
    if dry_run:
        return ReportResult(report=report, sent=pending, skipped=skipped, dry_run=True)
    problem = mail_problem()
    if problem and pending:
        raise MailNotConfigured(problem)
    sent, failures = [], []
    connection = get_connection(timeout=settings.EMAIL_TIMEOUT) if pending else None
    for recipient in pending:
        message = render_report(report, to=recipient, test=test)
        message.connection = connection
        delivery = _claim(week, recipient, forced=force)
        if delivery is None:
            skipped.append(recipient)  # another sender has it
            continue
        try:
            message.send()
        except MAIL_ERRORS as err:
            error = f"{type(err).__name__}: {err}"[:500]
            _record(delivery, subject=message.subject, error=error)
            failures.append(f"{recipient} ({error})")
            logger.error("weekly report week=%s to %s failed: %s", week, loggable(recipient), loggable(error))
            continue
        except BaseException:
            # Not the mail server's failure (a bug, an interrupt): the row must not stay "sending".
            _record(delivery, subject=message.subject, error="The send crashed (see the log).")
            raise
        _record(delivery, subject=message.subject)
        sent.append(recipient)
        logger.info("weekly report week=%s sent to %s", week, loggable(recipient))
    if failures:
        raise ReportNotSent(
            f"The mail server did not take the report for the week of {week} for "
            f"{'; '.join(failures)}. Check EMAIL_URL and the mail server; the report goes to "
            f"them at the next send ({len(sent)} sent now)."
        )
    return ReportResult(report=report, sent=sent, skipped=skipped, dry_run=False)


def send_alert_mail(*, subject: str, text: str) -> None:
    """One plain-text alert to every alert recipient; raises MailNotConfigured when mail is not
    set up, one of MAIL_ERRORS when the mail server fails."""
    problem = mail_problem()
    if problem:
        raise MailNotConfigured(problem)
    send_mail(
        subject=subject,
        message=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=settings.VISITORSYNC_ALERT_RECIPIENTS,
        connection=get_connection(timeout=settings.EMAIL_TIMEOUT),
    )


def _claim(week: dt.date, recipient: str, *, forced: bool) -> ReportDelivery | None:
    """The delivery row this sender owns now, or None when another sender has sent or is sending it."""
    if forced:
        return ReportDelivery.objects.create(week_start=week, recipient=recipient, forced=True)
    key = {"week_start": week, "recipient": recipient, "forced": False}
    return claims.claim(ReportDelivery, key=key, claimed_field=CLAIMED)


def _record(delivery: ReportDelivery, *, subject: str, error: str = "") -> None:
    claims.record(delivery, claimed_field=CLAIMED, error=error, subject=subject[:200])


def _display(report: WeeklyReport) -> dict:
    """Ready-to-show strings, so both templates say the same thing."""
    week = report.week
    peak = max((w.value("visitors") for w in report.history), default=0) or 1
    return {
        "rows": [
            {"label": "Week before", "week": report.previous,
             **{name: format_change(week.change(name)) for name in METRICS}},
            {"label": "Same week a year earlier", "week": report.year_ago,
             **{name: format_change(week.change_from_last_year(name)) for name in METRICS}},
            {"label": "Average of the 4 weeks before", "week": None,
             **{name: format_change(report.change_from_average(name)) for name in METRICS},
             **{f"average_{name}": report.average(name) for name in METRICS}},
        ],
        "any_unconfirmed": any(not w.confirmed for w in report.history),
        "history_rows": [
            {"week": w, "bar": max(1, round(160 * w.value("visitors") / peak)),
             "current": w.week_start == week.week_start}
            for w in report.history
        ],
    }  # fmt: skip
