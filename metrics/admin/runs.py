"""The read-only history of every sync, however it was started."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html, format_html_join

from metrics import catalog, jobs, tracker
from metrics.admin import metric_changes
from metrics.models import SyncRun
from metrics.presentation import moment_text, signed


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    """Read-only history: runs are written by the tracker only."""

    # Seven columns that fit 1280 px beside the sidebar and the filters: the week counts share
    # one column, who started a run goes with its trigger, a dry run is said with its status.
    list_display = [
        "run_number",
        "status_badge",
        "trigger_display",
        "started_display",
        "duration_display",
        "weeks_display",
        "queries",
    ]
    list_display_links = ["run_number"]

    class Media:
        css = {"all": ["metrics/admin.css"]}

    readonly_fields = ["status_badge", "duration_display", "changes_table"]
    list_filter = ["status", "trigger", "dry_run"]
    date_hierarchy = "started_at"
    fieldsets = [
        (None, {"fields": ["status_badge", "trigger", "started_by", "dry_run", "forced", "error"]}),
        (
            "Weeks",
            {
                "fields": [
                    "first_week",
                    "last_week",
                    "weeks_checked",
                    "weeks_created",
                    "weeks_updated",
                    "weeks_unchanged",
                ]
            },
        ),
        ("Changes, largest first", {"fields": ["changes_table"]}),
        (
            "Timing",
            {"fields": ["started_at", "finished_at", "duration_display", "heartbeat_at", "phase", "queries"]},
        ),
    ]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        jobs.record_abandoned_runs()  # a dead run is shown failed ("Abandoned"), not running
        return super().changelist_view(request, extra_context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        jobs.record_abandoned_runs()
        return super().change_view(request, object_id, form_url, extra_context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SyncRun | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SyncRun | None = None) -> bool:
        return False

    @admin.display(description="Run", ordering="id")
    def run_number(self, obj: SyncRun) -> str:
        return f"#{obj.pk}"

    @admin.display(description="Trigger", ordering="trigger")
    def trigger_display(self, obj: SyncRun) -> str:
        trigger = obj.get_trigger_display()
        return f"{trigger} ({obj.started_by})" if obj.started_by else trigger

    @admin.display(description="Started", ordering="started_at")
    def started_display(self, obj: SyncRun) -> str:
        return moment_text(obj.started_at)

    @admin.display(description="Weeks", ordering="weeks_checked")
    def weeks_display(self, obj: SyncRun) -> str:
        if obj.status != SyncRun.Status.SUCCEEDED:
            return "—"
        return format_html(
            '<span title="{} weeks checked">{} new, {} updated, {} unchanged</span>',
            obj.weeks_checked,
            obj.weeks_created,
            obj.weeks_updated,
            obj.weeks_unchanged,
        )

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: SyncRun) -> str:
        return format_html(
            '<span class="vs-status vs-status-{}">{}</span>{}',
            obj.status,
            obj.get_status_display(),
            format_html('<div class="vs-quiet">{}</div>', "dry run") if obj.dry_run else "",
        )

    @admin.display(description="Duration")
    def duration_display(self, obj: SyncRun) -> str:
        return f"{obj.duration.total_seconds():.1f} s" if obj.duration else "—"

    @admin.display(description="Per-week changes")
    def changes_table(self, obj: SyncRun) -> str:
        changes = tracker.run_changes(obj)
        if not changes:
            return "No week changed." if obj.status == SyncRun.Status.SUCCEEDED else "—"
        # The user-defined metrics' column only when one moved: a run of the built-ins alone
        # reads as before. The definitions are read once for the whole table.
        with_metrics = any(change.metrics for change in changes)
        rows = metric_changes.change_rows(changes, catalog.stored() if with_metrics else ())
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td>{}<td>{}</td></tr>",
            (
                (
                    f"{c.week_start:%Y-%m-%d}",
                    f"{'new' if c.created else f'{c.visitors_before:,}'} → {c.visitors_after:,}",
                    f"{'new' if c.created else f'{c.pageviews_before:,}'} → {c.pageviews_after:,}",
                    format_html('<td class="vs-metric-changes">{}</td>', metric_changes.cell(moved))
                    if with_metrics
                    else "",
                    signed(c.visitors_delta) + " visitors",
                )
                for c, moved in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>Week</th><th>Visitors</th><th>Pageviews</th>{}<th>Change</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            format_html("<th>{}</th>", "Other metrics") if with_metrics else "",
            body,
        )
