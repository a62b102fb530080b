"""Jobs: what a door runs. A sync, then the alert check; a report, then the alert check; the
status, with dead workers' runs and tasks recorded failed.

The doors (HTTP views, the admin, management commands, the crontab job and the task worker)
call these instead of the services, so the alert check after a sync or a report happens in
one visible place rather than inside the tracker.
"""

from metrics.jobs.background import execute_in_background
from metrics.jobs.dead_runs import get_run, get_sync_status, record_abandoned_runs
from metrics.jobs.report import send_weekly_report
from metrics.jobs.syncs import (
    execute,
    execute_claimed_sync,
    sync_all_metrics,
    sync_metric_by_id,
    sync_weeks,
)

__all__ = [
    "execute",
    "execute_claimed_sync",
    "execute_in_background",
    "get_run",
    "get_sync_status",
    "record_abandoned_runs",
    "send_weekly_report",
    "sync_all_metrics",
    "sync_metric_by_id",
    "sync_weeks",
]
