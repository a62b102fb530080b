"""The Django admin of visitorsync: weekly numbers with a chart, the sync page, sync history.

`weekly.py` is the WeeklyMetric list (chart, growth, the "Sync selected weeks" action);
`sync_page.py` the sync page it serves (status, test connection, start a sync, progress);
`reports_panel.py` the sync page's reports-and-alerts panel (a door into `metrics.reports`);
`runs.py` the read-only SyncRun history. The sync page and the action are doors into
`metrics.tracker`; nothing here decides what a week's numbers are.
"""

from metrics.admin import runs, weekly_list

__all__ = ["runs", "weekly_list"]
