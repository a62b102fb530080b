"""The django-crontab job: a door into the tracker for `manage.py crontab run`.

django-crontab only logs what a job raises and always exits 0, so this job records every
attempt in SyncRun (the tracker does) and logs the outcome in one line; cron mails or
appends that output (see VISITORSYNC_CRON_LOG).
"""

import logging

from metrics import tracker
from metrics.logsafe import loggable
from metrics.models import SyncRun

logger = logging.getLogger(__name__)


def sync_visitors_job() -> None:
    """Run a full sync with trigger `crontab`; never raises for an expected outcome.

    The tracker records the run and logs its result (INFO on success, ERROR with the
    reason on failure); this job adds the one outcome the tracker does not log.
    """
    try:
        tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.CRONTAB))
    except tracker.SyncInProgress as err:
        # Another trigger (maybe on another host) is syncing right now and covers this run.
        logger.warning("crontab sync skipped: %s", loggable(err))
    except tracker.SyncFailed:
        pass  # recorded as a failed SyncRun and logged at ERROR by the tracker
