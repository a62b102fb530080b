"""The WeeklyMetric list: headline figures, the chart, the weeks with their growth (from the
week before and from the same week last year), "Sync selected weeks" and the CSV exports
(the same columns and rows as the stats API's CSV: metrics/numbers/export.py). Every number
shown comes from the read model, `metrics.numbers`."""

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from metrics import catalog, jobs, numbers, tracker
from metrics.admin import chart, metric_chart, metric_columns, metric_week
from metrics.admin.reports_panel import ReportsPanel
from metrics.admin.sync_page import SyncPage
from metrics.admin.weekly_filters import SyncedFilter, WeeklyChangeList
from metrics.core.definitions import MetricDefinition
from metrics.models import SyncRun, WeeklyMetric
from metrics.presentation import ago, error_text, moment_text, run_summary


@admin.register(WeeklyMetric)
class WeeklyMetricAdmin(admin.ModelAdmin):
    list_display = [
        "week",
        "visitors_display",
        "pageviews_display",
        "growth",
        "vs_last_year",
        "last_synced",
        "since_sync",
    ]
    list_filter = [SyncedFilter]

    class Media:
        css = {"all": ["metrics/admin.css"]}

    date_hierarchy = "week_start"
    ordering = ["-week_start"]
    actions = ["sync_selected_weeks", "export_selected_as_csv"]
    list_per_page = 52
    # A last page of a few weeks joins the page before (53 weeks are one page, not 52 and 1).
    list_orphans = 8
    fields = [
        "week_start",
        "visitors",
        "pageviews",
        "posthog_visitors_display",
        "posthog_pageviews_display",
        "metrics_table",
        "synced_at",
        "created_at",
        "updated_at",
    ]

    # Every week and number comes from PostHog (a sync) and the webhook: a hand-added week
    # could be any date (year 1 made every later sync crash), and a hand edit would be
    # silently replaced by the next sync. A sync with "since" adds older weeks. So a week's
    # page is a view: no save buttons, titled by its week.
    readonly_fields = fields
    metrics_table = metric_week.week_field  # every metric of the week, PostHog's, via webhook

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WeeklyMetric | None = None) -> bool:
        return False

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        week = self.get_object(request, object_id)
        title = {"title": str(week), "subtitle": None} if week is not None else {}
        return super().change_view(request, object_id, form_url, {**title, **(extra_context or {})})

    @admin.display(description="PostHog visitors")
    def posthog_visitors_display(self, obj: WeeklyMetric) -> str:
        """What PostHog reported at the last sync (the model's label would read "Posthog")."""
        return "not synced yet" if obj.posthog_visitors is None else f"{obj.posthog_visitors:,}"

    @admin.display(description="PostHog pageviews")
    def posthog_pageviews_display(self, obj: WeeklyMetric) -> str:
        return "not synced yet" if obj.posthog_pageviews is None else f"{obj.posthog_pageviews:,}"

    def has_sync_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("metrics.sync_weeklymetric")

    def has_view_runs_permission(self, request: HttpRequest) -> bool:
        """A run's error, who started it and its changes are SyncRun details ("Can view sync run")."""
        return request.user.has_perm("metrics.view_syncrun")

    @admin.display(description="Week", ordering="week_start")
    def week(self, obj: WeeklyMetric) -> str:
        start, end = obj.week_start, obj.numbers.week_end
        last_day = f"{end.day}" if end.month == start.month else f"{end:%b} {end.day}"
        return format_html(
            '{}<div class="vs-quiet">{} to {}, {}</div>',
            obj,
            f"{start:%b} {start.day}",
            last_day,
            f"{end:%Y}",
        )

    @admin.display(description="Visitors", ordering="visitors")
    def visitors_display(self, obj: WeeklyMetric) -> str:
        return f"{obj.visitors:,}"

    @admin.display(description="Pageviews", ordering="pageviews")
    def pageviews_display(self, obj: WeeklyMetric) -> str:
        return f"{obj.pageviews:,}"

    @admin.display(description="vs. week before")
    def growth(self, obj: WeeklyMetric) -> str:
        week: numbers.Week = obj.numbers
        if week.in_progress:
            # The headline's comparison, so the page shows one number for it: this week so far
            # against last week prorated to the same point. Not coloured as a trend.
            change, base = week.change_so_far("visitors"), week.previous_so_far("visitors")
            if change is None:
                return ""
            return format_html(
                '<span class="vs-quiet" title="this week so far, against last week\'s total prorated '
                'to this point (≈{})">{} so far</span>',
                round(base),
                numbers.percent_text(change).lstrip("▲▼ "),
            )
        change, previous = week.change("visitors"), week.previous("visitors")
        if change is None:
            return ""
        percent = round(change * 100, 1)
        if percent > 0:
            return format_html('<span class="vs-up" title="from {}">▲ +{}%</span>', previous, percent)
        if percent < 0:
            return format_html('<span class="vs-down" title="from {}">▼ {}%</span>', previous, percent)
        return format_html('<span class="vs-quiet" title="from {}">0%</span>', previous)

    @admin.display(description="vs. same week last year")
    def vs_last_year(self, obj: WeeklyMetric) -> str:
        week: numbers.Week = obj.numbers
        change = week.change_from_last_year("visitors")
        if change is None:
            return ""
        title = (
            f"from {week.last_year('visitors')} in the week of {numbers.same_week_last_year(week.week_start)}"
        )
        if week.in_progress:
            prorated = week.change_from_last_year_so_far("visitors")
            return format_html(
                '<span class="vs-quiet" title="this week so far, against that week prorated to this '
                'point ({})">{} so far</span>',
                title,
                numbers.percent_text(prorated).lstrip("▲▼ "),
            )
        css = "vs-up" if change > 0 else "vs-down" if change < 0 else "vs-quiet"
        return format_html('<span class="{}" title="{}">{}</span>', css, title, numbers.percent_text(change))

    @admin.display(description="Last synced", ordering="synced_at")
    def last_synced(self, obj: WeeklyMetric) -> str:
        if obj.synced_at is None:
            return format_html('<span class="vs-quiet">{}</span>', "never")
        return format_html(
            '<span title="{}">{}</span>',
            f"{moment_text(obj.synced_at)} {timezone.localtime(obj.synced_at):%Z}",
            ago(obj.synced_at, depth=1),
        )

    @admin.display(description="Via webhook")
    def since_sync(self, obj: WeeklyMetric) -> str:
        return metric_week.since_sync_cell(obj.numbers, getattr(obj, "listed_metrics", ()))

    @admin.action(description="Sync selected weeks with PostHog", permissions=["sync"])
    def sync_selected_weeks(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        options = tracker.SyncOptions(
            trigger=SyncRun.Trigger.ADMIN_ACTION, started_by=request.user.get_username()
        )
        after = jobs.AfterAnswer()  # the alert check follows the page's answer
        try:
            run = jobs.sync_weeks(
                options, week_starts=queryset.values_list("week_start", flat=True), after=after
            )
        except tracker.TrackerError as err:
            text = error_text(err, details=self.has_view_runs_permission(request))
            self.message_user(request, f"Nothing was changed. {text}", messages.ERROR)
        else:
            self.message_user(request, run_summary(run), messages.SUCCESS)
        return after.attach(HttpResponseRedirect(request.get_full_path()))

    @admin.action(description="Export selected weeks as CSV", permissions=["view"])
    def export_selected_as_csv(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        return csv_response(queryset, definitions=_metrics(request))

    def get_urls(self):
        """Every custom page of this admin, ahead of Django's own (which would take "sync" for
        an object id)."""
        wrap = self.admin_site.admin_view
        sync, panel = SyncPage(self), ReportsPanel(self)
        return [
            path("export.csv", wrap(self.export_view), name="metrics_weeklymetric_export"),
            path("sync/", wrap(sync.sync_view), name="metrics_weeklymetric_sync"),
            path("sync/start/", wrap(sync.sync_start_view), name="metrics_weeklymetric_sync_start"),
            path(
                "sync/runs/<int:run_id>/progress/",
                wrap(sync.sync_progress_view),
                name="metrics_weeklymetric_sync_progress",
            ),
            path(
                "sync/test-connection/",
                wrap(sync.test_connection_view),
                name="metrics_weeklymetric_test_connection",
            ),
            path("sync/test-report/", wrap(panel.test_report_view), name="metrics_weeklymetric_test_report"),
            path("sync/test-alert/", wrap(panel.test_alert_view), name="metrics_weeklymetric_test_alert"),
            *super().get_urls(),
        ]

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """Every week of the list as filtered (filters, search, date drill-down; all pages), as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = super().get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:metrics_weeklymetric_changelist"))
        return csv_response(changelist.queryset, definitions=_metrics(request))

    def get_paginator(
        self, request: HttpRequest, queryset: QuerySet, per_page: int, orphans: int = 0, **kwargs
    ):
        return super().get_paginator(request, queryset, per_page, orphans=self.list_orphans, **kwargs)

    def get_changelist(self, request: HttpRequest, **kwargs):
        return WeeklyChangeList

    def get_list_display(self, request: HttpRequest):
        """The columns, with one per listed metric (metric_columns.py)."""
        return metric_columns.list_display(super().get_list_display(request), _listed(request))

    def get_changelist_instance(self, request: HttpRequest):
        """The list, each shown week with its numbers from the read model (`obj.numbers`): one
        query more for the whole page, reading the weeks before and a year before even where
        the list's filters and date drill-down leave them out."""
        changelist = super().get_changelist_instance(request)
        table = numbers.read_weeks(changelist.result_list, definitions=_metrics(request))
        listed = _listed(request)
        for obj in changelist.result_list:
            obj.numbers = table.week(obj.week_start)
            obj.metric_values = obj.numbers.metrics if obj.numbers else {}
            obj.listed_metrics = listed  # their "via webhook" lines
        return changelist

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        extra_context = {
            # Not Django's "Select weekly metric to change": nothing here is edited by hand.
            "title": "Weekly metrics",
            **(extra_context or {}),
            "weekly_chart": (
                weekly_chart := chart.weekly_chart(
                    targets=_built_in_targets(request), definitions=_metrics(request)
                )
            ),
            "metric_panels": metric_chart.panels(weekly_chart, _metrics(request)),
            # A card per listed metric: the built-ins, then each user-defined one in its order.
            "headline": numbers.headline(
                keys=[d.key for d in _listed(request)], definitions=_metrics(request)
            ),
            "pending_restatement": metric_week.pending_notes(_metrics(request)),
            "sync_url": reverse("admin:metrics_weeklymetric_sync"),
            "export_url": reverse("admin:metrics_weeklymetric_export"),
        }
        return super().changelist_view(request, extra_context)


def _metrics(request: HttpRequest) -> tuple[MetricDefinition, ...]:
    """Every metric's definition, read once per request (columns, rows and chart share it)."""
    if not hasattr(request, "vs_metrics"):
        request.vs_metrics = catalog.stored()
    return request.vs_metrics


def _listed(request: HttpRequest) -> tuple[MetricDefinition, ...]:
    """The metrics with a column and a headline card: those marked in_admin_list, in order."""
    return tuple(definition for definition in _metrics(request) if definition.in_admin_list)


def _built_in_targets(request: HttpRequest) -> dict[str, int]:
    """The built-ins' targets per week, for the chart's lines."""
    return {d.key: round(d.target) for d in _metrics(request) if d.built_in and d.target is not None}


def csv_response(queryset: QuerySet, *, definitions: tuple[MetricDefinition, ...]) -> HttpResponse:
    """The weeks of `queryset` as the stats API's CSV, for download (`definitions`: the
    request's `catalog.stored()`, read once for the list and the file)."""
    table = numbers.read_weeks(queryset.order_by(), definitions=definitions)
    rows = table.weeks
    text = numbers.write_csv(rows, definitions=table.definitions)  # as the stats API does
    response = HttpResponse(text, content_type="text/csv; charset=utf-8; header=present")
    response["Content-Disposition"] = f'attachment; filename="{numbers.csv_filename(rows)}"'
    return response
