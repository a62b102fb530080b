"""The sync status and a run as a door reads them, with the truth about dead workers.

The tracker records a run abandoned as soon as anyone reads it with a heartbeat older than
VISITORSYNC_SYNC_ABANDON_AFTER; here the task result of such a run (database backend) is
marked failed too, so no page, monitor or task list shows a dead sync as running. Nothing
retries an abandoned sync: the next scheduled sync, or one started by hand, covers its weeks.
"""

from metrics import tracker
from metrics.jobs import tasks
from metrics.models import SyncRun


def get_sync_status() -> tracker.SyncStatus:
    """`tracker.get_sync_status`, then the task results of abandoned runs marked failed."""
    status = tracker.get_sync_status()
    tasks.fail_results_of_abandoned_runs()
    return status


def get_run(run_id: int) -> SyncRun | None:
    """`tracker.get_run`, then the task results of abandoned runs marked failed."""
    run = tracker.get_run(run_id)
    tasks.fail_results_of_abandoned_runs()
    return run


def record_abandoned_runs() -> None:
    """Every dead run recorded abandoned, and its task result failed."""
    tracker.record_abandoned_runs()
    tasks.fail_results_of_abandoned_runs()
