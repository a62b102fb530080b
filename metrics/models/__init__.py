"""What visitorsync stores: one row per week (week_rows.py), one row per sync attempt
(sync_runs.py), what was sent (sending.py), and the definitions of the metrics (metric_rows.py)."""

from metrics.models.metric_rows import Metric, MetricValue
from metrics.models.sending import Alert, AlertDelivery, ReportDelivery
from metrics.models.sync_runs import SyncRun
from metrics.models.week_rows import WebhookDelivery, WeeklyMetric, WeekVisitor

__all__ = [
    "Alert",
    "AlertDelivery",
    "Metric",
    "MetricValue",
    "ReportDelivery",
    "SyncRun",
    "WebhookDelivery",
    "WeekVisitor",
    "WeeklyMetric",
]
