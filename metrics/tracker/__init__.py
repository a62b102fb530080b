"""The tracker service: the one place that changes weekly numbers.

Every door calls a function here (`from metrics import tracker`):

- webhook (`metrics.views.posthog_webhook`): `record_pageview`;
- cron endpoint (`metrics.views.cron_sync_visitors`): `sync_all_metrics`; the status
  endpoint (`metrics.views.sync_status`): `get_sync_status`;
- admin sync page (`metrics.admin.WeeklyMetricAdmin`): `start_sync_all_metrics`, then
  `execute_claimed_sync` in a task (`metrics.tasks`, run by a thread or a worker),
  `check_connection`, `get_sync_status`, `run_changes`, `next_sync_query`; its action "Sync selected weeks":
  `sync_weeks`;
- management command (`manage.py sync_visitors`): `sync_all_metrics`, `sync_weeks`,
  `sync_metric_by_id`, `get_sync_status`;
- crontab job (`metrics.cron.sync_visitors_job`): `sync_all_metrics`.

Every sync takes a `SyncOptions`. Every error a door can meet derives from `TrackerError`
(`errors.py`). Inside: `sync.py` (the sync), `ranges.py` (asking PostHog range by range),
`apply.py` (compare, wipe-out guard, write), `lock.py` (the lock), `pageviews.py` (the
webhook's counting, within `deadline.py`'s time limit on the database), `status.py`
(read-only selectors), `connection.py` (the connection test), `changes.py` (what a run
changed). After every sync, finished or failed,
`sync.py` calls `metrics.reports.alerts.check_after_sync()` (which never raises).
"""

from metrics.tracker.changes import WeekChange
from metrics.tracker.connection import ConnectionReport, check_connection
from metrics.tracker.errors import (
    ConnectionTestFailed,
    DatabaseUnavailable,
    InvalidPageview,
    InvalidSyncRequest,
    LockLost,
    NotConfigured,
    RecordingUnavailable,
    SyncError,
    SyncFailed,
    SyncInProgress,
    SyncNotConfigured,
    TrackerError,
    UnknownWeek,
    WipeoutRefused,
)
from metrics.tracker.pageviews import (
    PageviewResult,
    PageviewStatus,
    oldest_tracked_week,
    record_pageview,
)
from metrics.tracker.ranges import chunk_ranges
from metrics.tracker.status import SyncStatus, get_sync_status, run_changes
from metrics.tracker.sync import (
    PendingSync,
    PlannedQuery,
    ProgressCallback,
    SyncOptions,
    execute_claimed_sync,
    next_sync_query,
    start_sync_all_metrics,
    sync_all_metrics,
    sync_metric_by_id,
    sync_weeks,
)

__all__ = [
    "ConnectionReport",
    "ConnectionTestFailed",
    "DatabaseUnavailable",
    "InvalidPageview",
    "InvalidSyncRequest",
    "LockLost",
    "NotConfigured",
    "PageviewResult",
    "PageviewStatus",
    "PendingSync",
    "PlannedQuery",
    "ProgressCallback",
    "RecordingUnavailable",
    "SyncError",
    "SyncFailed",
    "SyncInProgress",
    "SyncNotConfigured",
    "SyncOptions",
    "SyncStatus",
    "TrackerError",
    "UnknownWeek",
    "WeekChange",
    "WipeoutRefused",
    "check_connection",
    "chunk_ranges",
    "execute_claimed_sync",
    "get_sync_status",
    "next_sync_query",
    "oldest_tracked_week",
    "record_pageview",
    "run_changes",
    "start_sync_all_metrics",
    "sync_all_metrics",
    "sync_metric_by_id",
    "sync_weeks",
]
