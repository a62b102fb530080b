"""The Django admin of visitorsync: weekly numbers with a chart, the sync page, sync history.

`weekly_list.py` is the WeeklyMetric list (chart, growth, the "Sync selected weeks" action,
CSV) and its `get_urls`, which wires up every page the admin serves: the views of
`sync_page.py` (status, test connection, start a sync, progress) and of `reports_panel.py`
(the sync page's reports-and-alerts panel, a door into `metrics.reports`). `runs.py` is the
read-only SyncRun history. The sync page and the action are doors into `metrics.jobs` and
`metrics.tracker`; nothing here decides what a week's numbers are.
"""

from django.contrib import admin

from metrics.admin import runs, weekly_list

# The admin is visitorsync's, not "Django administration"; its home and sidebar list the
# sync page beside the models; "View site" leads to the front page that says what this is.
admin.site.site_header = "visitorsync"
admin.site.site_title = "visitorsync admin"
admin.site.index_title = "Weekly metrics and syncs with PostHog"
admin.site.index_template = "admin/metrics/index.html"
admin.site.site_url = "/"

__all__ = ["runs", "weekly_list"]
