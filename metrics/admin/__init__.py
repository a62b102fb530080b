"""The Django admin of visitorsync: weekly numbers with a chart, the sync page, sync history.

`weekly_list.py` is the WeeklyMetric list (chart, growth, the "Sync selected weeks" action,
CSV) and its `get_urls`, which wires up every page the admin serves: the views of
`sync_page.py` (status, test connection, start a sync, progress) and of `reports_panel.py`
(the sync page's reports-and-alerts panel, a door into `metrics.reports`). `runs.py` is the
read-only SyncRun history. The sync page and the action are doors into `metrics.jobs` and
`metrics.tracker`; nothing here decides what a week's numbers are.
"""

from metrics.admin import metric_editor, runs, site, weekly_list

__all__ = ["metric_editor", "runs", "site", "weekly_list"]
