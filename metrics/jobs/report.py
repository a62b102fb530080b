"""The weekly report as a door sends it: the report, then the alert check (a report run checks
them too); or, for a door that answers first, checked now and sent after the answer."""

import datetime as dt
import logging

from metrics import reports
from metrics.core.logsafe import loggable
from metrics.jobs.after_answer import AfterAnswer
from metrics.reports import alerts

logger = logging.getLogger(__name__)


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


def queue_weekly_report(*, after: AfterAnswer, test: bool = False) -> reports.ReportResult:
    """What the report would do now (who gets it, who has it), checked in the request; the
    sends are added to `after`. Raises what a send would raise before any mail: no
    recipients (ReportNotConfigured), no EMAIL_URL (MailNotConfigured), no week (NoSuchWeek).
    Returns that plan (a dry run's result: `sent` lists the queued recipients); what happened
    to each is on its ReportDelivery row (the admin's reports panel) and in the log."""
    plan = reports.send_weekly_report(dry_run=True, test=test)
    problem = reports.mail_problem()
    if problem and plan.sent:
        raise reports.MailNotConfigured(problem)
    if plan.sent:
        after.add(lambda: _send_logged(test=test))
    return plan


def _send_logged(*, test: bool) -> None:
    try:
        send_weekly_report(test=test)
    except reports.ReportError as err:  # recorded on the delivery rows; the answer is long gone
        logger.error("weekly report after the answer: %s", loggable(str(err)))
