"""The admin site as visitorsync's: its name, its home page (which lists the sync page beside
the models, as the sidebar does) and "View site", which leads to the front page."""

from django.contrib import admin

admin.site.site_header = "visitorsync"
admin.site.site_title = "visitorsync admin"
admin.site.index_title = "Weekly metrics and syncs with PostHog"
admin.site.index_template = "admin/metrics/index.html"
admin.site.site_url = "/"
