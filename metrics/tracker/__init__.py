"""The tracker service: the one place that changes weekly numbers.

Every sync takes a `SyncOptions`; every error it raises derives from `TrackerError` (defined
with every other error in `metrics.core.errors`, re-exported here). The tracker changes
numbers and records runs; what runs after a sync (the alert check) is the job's business
(`metrics.jobs`), so nothing here imports a neighbouring service.
"""

from metrics.core.errors import (
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
from metrics.tracker.changes import WeekChange
from metrics.tracker.connection import ConnectionReport, check_connection
from metrics.tracker.execution import PendingSync, SyncOptions
from metrics.tracker.lock import ProgressCallback
from metrics.tracker.metric_matches import destination_events, metric_events
from metrics.tracker.pageviews import (
    PageviewResult,
    PageviewStatus,
    oldest_tracked_week,
    record_pageview,
)
from metrics.tracker.ranges import chunk_ranges
from metrics.tracker.status import (
    SyncStatus,
    get_run,
    get_sync_status,
    record_abandoned_runs,
    run_changes,
)
from metrics.tracker.sync import (
    PlannedQuery,
    execute_claimed_sync,
    next_sync_query,
    resume_claimed_sync,
    start_sync_all_metrics,
    start_sync_metric_by_id,
    start_sync_weeks,
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
    "destination_events",
    "execute_claimed_sync",
    "get_run",
    "get_sync_status",
    "metric_events",
    "next_sync_query",
    "oldest_tracked_week",
    "record_abandoned_runs",
    "record_pageview",
    "resume_claimed_sync",
    "run_changes",
    "start_sync_all_metrics",
    "start_sync_metric_by_id",
    "start_sync_weeks",
    "sync_all_metrics",
    "sync_metric_by_id",
    "sync_weeks",
]
