"""The django-crontab job: a door into the tracker for `manage.py crontab run`.

django-crontab only logs what a job raises and always exits 0, so this job records every
attempt in SyncRun (the tracker does) and logs the outcome in one line; cron mails or
appends that output (see VISITORSYNC_CRON_LOG).
"""

import logging

from metrics import reports, tracker
from metrics.core.logsafe import loggable
from metrics.jobs import report, syncs
from metrics.models import SyncRun
from metrics.presentation import report_summary

logger = logging.getLogger(__name__)


def sync_visitors_job() -> None:
    """Run a full sync with trigger `crontab`; never raises for an expected outcome.

    The tracker records the run and logs its result (INFO on success, ERROR with the
    reason on failure); this job adds the one outcome the tracker does not log.
    """
    try:
        syncs.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.CRONTAB))
    except tracker.SyncInProgress as err:
        # Another trigger (maybe on another host) is syncing right now and covers this run.
        logger.warning("crontab sync skipped: %s", loggable(err))
    except tracker.SyncFailed:
        pass  # recorded as a failed SyncRun and logged at ERROR by the tracker


def weekly_report_job() -> None:
    """Send the weekly report for the last complete week (after the Monday-morning sync).

    Idempotent: a recipient who has the week's report is skipped, so a second run (on another
    host, or by hand) sends nothing. Never raises for an expected outcome; logs it.
    """
    try:
        result = report.send_weekly_report()
    except reports.ReportError as err:
        logger.error("weekly report not sent: %s", loggable(str(err)))
        return
    logger.info("%s", report_summary(result))
