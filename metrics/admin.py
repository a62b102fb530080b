from django.contrib import admin

from metrics.models import SyncRun, WeeklyMetric


@admin.register(WeeklyMetric)
class WeeklyMetricAdmin(admin.ModelAdmin):
    list_display = ["week_start", "visitors", "pageviews", "synced_at"]
    readonly_fields = ["posthog_visitors", "posthog_pageviews", "synced_at", "created_at", "updated_at"]


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ["id", "trigger", "status", "started_at", "finished_at", "weeks_updated", "queries"]
