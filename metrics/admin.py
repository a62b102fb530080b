"""The Django admin of visitorsync: weekly numbers with a chart, the sync page, sync history.

The sync page and the admin action are doors into `metrics.tracker`; nothing here decides
what a week's numbers are.
"""

import datetime as dt
from http import HTTPStatus

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from metrics import auth, background, chart, tracker, weeks
from metrics.forms import StartSyncForm
from metrics.models import SyncRun, WeeklyMetric
from metrics.presentation import error_response, http_status_for, run_json, run_summary, signed

RECENT_RUNS = 20
LARGEST_CHANGES = 10

admin.site.index_template = "admin/metrics/index.html"


# --- WeeklyMetric --------------------------------------------------------------------------
class SyncedFilter(admin.SimpleListFilter):
    title = "synced with PostHog"
    parameter_name = "synced"

    def lookups(self, request, model_admin):
        return [("yes", "Synced"), ("never", "Never synced")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(synced_at__isnull=False)
        if self.value() == "never":
            return queryset.filter(synced_at__isnull=True)
        return queryset


@admin.register(WeeklyMetric)
class WeeklyMetricAdmin(admin.ModelAdmin):
    list_display = ["week", "visitors_display", "pageviews_display", "growth", "last_synced", "since_sync"]
    list_filter = [SyncedFilter]

    class Media:
        css = {"all": ["metrics/admin.css"]}

    date_hierarchy = "week_start"
    ordering = ["-week_start"]
    actions = ["sync_selected_weeks"]
    list_per_page = 52
    fields = [
        "week_start",
        "visitors",
        "pageviews",
        "posthog_visitors",
        "posthog_pageviews",
        "synced_at",
        "created_at",
        "updated_at",
    ]

    def get_readonly_fields(self, request, obj=None):
        # Every number belongs to the sync and the webhook; a hand edit would be silently
        # replaced by the next sync. A week can be added by hand and synced from the list.
        synced = ["visitors", "pageviews", "posthog_visitors", "posthog_pageviews", "synced_at"]
        return [*(["week_start"] if obj else []), *synced, "created_at", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The stored week before each row, read by a correlated subquery rather than
        # `with_previous()`'s window function: a window would only see the rows left by
        # the list's filters and date hierarchy, so the first week shown would lose its
        # growth. Still one query for the whole page.
        before = WeeklyMetric.objects.filter(week_start__lt=OuterRef("week_start")).order_by("-week_start")
        return (
            super()
            .get_queryset(request)
            .annotate(
                previous_visitors=Subquery(before.values("visitors")[:1]),
                previous_week_start=Subquery(before.values("week_start")[:1]),
            )
        )

    def has_sync_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("metrics.sync_weeklymetric")

    @admin.display(description="Week", ordering="week_start")
    def week(self, obj: WeeklyMetric) -> str:
        start, end = obj.week_start, obj.week_end
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
        previous_week = getattr(obj, "previous_week_start", None)
        if isinstance(previous_week, str):  # some backends return the subquery's date as text
            previous_week = dt.date.fromisoformat(previous_week)
        exact = previous_week is not None and obj.week_start - previous_week == dt.timedelta(weeks=1)
        change = obj.visitors_change(obj.previous_visitors if exact else None)
        if change is None:
            return ""
        percent = round(change * 100, 1)
        if obj.week_start == weeks.current_week_start():
            # A week in progress against a whole week: shown, but not coloured as a trend.
            return format_html(
                '<span class="vs-quiet" title="this week so far, against all of last week ({})">'
                "{}{}% so far</span>",
                obj.previous_visitors,
                "+" if percent > 0 else "",
                percent,
            )
        if percent > 0:
            return format_html(
                '<span class="vs-up" title="from {}">▲ +{}%</span>', obj.previous_visitors, percent
            )
        if percent < 0:
            return format_html(
                '<span class="vs-down" title="from {}">▼ {}%</span>', obj.previous_visitors, percent
            )
        return format_html('<span class="vs-quiet" title="from {}">0%</span>', obj.previous_visitors)

    @admin.display(description="Last synced", ordering="synced_at")
    def last_synced(self, obj: WeeklyMetric) -> str:
        if obj.synced_at is None:
            return format_html('<span class="vs-quiet">{}</span>', "never")
        return format_html(
            '<span title="{}">{} ago</span>',
            f"{timezone.localtime(obj.synced_at):%Y-%m-%d %H:%M:%S %Z}",
            timesince(obj.synced_at, depth=1),
        )

    @admin.display(description="Via webhook")
    def since_sync(self, obj: WeeklyMetric) -> str:
        if obj.webhook_visitors is None:
            return format_html('<span class="vs-quiet">{}</span>', "not synced yet")
        return format_html(
            '<span title="{} visitors and {} pageviews from the webhook since the last sync">{} / {}</span>',
            signed(obj.webhook_visitors),
            signed(obj.webhook_pageviews or 0),
            signed(obj.webhook_visitors),
            signed(obj.webhook_pageviews or 0),
        )

    @admin.action(description="Sync selected weeks with PostHog", permissions=["sync"])
    def sync_selected_weeks(self, request: HttpRequest, queryset: QuerySet) -> None:
        options = tracker.SyncOptions(
            trigger=SyncRun.Trigger.ADMIN_ACTION, started_by=request.user.get_username()
        )
        try:
            run = tracker.sync_weeks(options, week_starts=queryset.values_list("week_start", flat=True))
        except tracker.TrackerError as err:
            self.message_user(request, f"Nothing was changed. {err}", messages.ERROR)
        else:
            self.message_user(request, run_summary(run), messages.SUCCESS)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "weekly_chart": chart.weekly_chart(),
            "sync_url": reverse("admin:metrics_weeklymetric_sync"),
        }
        return super().changelist_view(request, extra_context)

    # --- The sync page ----------------------------------------------------------------
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("sync/", wrap(self.sync_view), name="metrics_weeklymetric_sync"),
            path(
                "sync/test-connection/",
                wrap(self.test_connection_view),
                name="metrics_weeklymetric_test_connection",
            ),
            path(
                "sync/runs/<int:run_id>/progress/",
                wrap(self.sync_progress_view),
                name="metrics_weeklymetric_sync_progress",
            ),
            *super().get_urls(),
        ]

    def sync_view(self, request: HttpRequest) -> HttpResponse:
        """GET: status, history and the start form. POST: start a sync.

        With `Accept: application/json` the sync runs in the background and the answer is
        202 with the run id (409 when another sync holds the lock); without, it runs in the
        request and the page shows the result as a message.
        """
        if not self.has_view_permission(request):
            raise PermissionDenied
        wants_json = "application/json" in request.headers.get("Accept", "")
        form = StartSyncForm(request.POST if request.method == "POST" else None)
        if request.method == "POST":
            if not self.has_sync_permission(request):
                if wants_json:
                    return error_response(HTTPStatus.FORBIDDEN, "You do not have permission to start a sync.")
                raise PermissionDenied
            if form.is_valid():
                return self._start_sync(request, form, wants_json=wants_json)
            if wants_json:
                return error_response(
                    HTTPStatus.BAD_REQUEST, "Please correct the form.", errors=form.errors.get_json_data()
                )
        return TemplateResponse(
            request, "admin/metrics/weeklymetric/sync.html", self._sync_context(request, form)
        )

    def _start_sync(self, request: HttpRequest, form: StartSyncForm, *, wants_json: bool) -> HttpResponse:
        options = tracker.SyncOptions(
            trigger=SyncRun.Trigger.ADMIN,
            since=form.cleaned_data["since"],
            dry_run=form.cleaned_data["dry_run"],
            started_by=request.user.get_username(),
        )
        try:
            pending = tracker.start_sync_all_metrics(options)
        except tracker.TrackerError as err:
            if wants_json:
                holder = _progress_json(err.run) if err.run else None
                return error_response(http_status_for(err), str(err), running=holder)
            self.message_user(request, str(err), messages.ERROR)
            return redirect("admin:metrics_weeklymetric_sync")
        if wants_json:
            background.execute_in_background(pending)
            return JsonResponse(_progress_json(pending.run), status=HTTPStatus.ACCEPTED)
        try:
            run = pending.execute()
        except tracker.TrackerError as err:
            self.message_user(
                request, f"Sync #{pending.run.pk} failed; nothing was changed. {err}", messages.ERROR
            )
        else:
            self.message_user(request, run_summary(run), messages.SUCCESS)
        return redirect("admin:metrics_weeklymetric_sync")

    def sync_progress_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        """JSON for the page to poll: weeks done of total and phase; the result once finished."""
        if not self.has_view_permission(request):
            return error_response(HTTPStatus.FORBIDDEN, "You do not have permission to view syncs.")
        run = SyncRun.objects.filter(pk=run_id).first()
        if run is None:
            return error_response(HTTPStatus.NOT_FOUND, f"There is no sync #{run_id}.")
        data = _progress_json(run)
        if run.status != SyncRun.Status.RUNNING:
            data["result_html"] = render_to_string(
                "admin/metrics/weeklymetric/sync_result.html", _result_context(run), request=request
            )
        return JsonResponse(data)

    def test_connection_view(self, request: HttpRequest) -> HttpResponse:
        """POST: spend one trivial PostHog query and report the result as a message."""
        if request.method != "POST":
            return redirect("admin:metrics_weeklymetric_sync")
        if not self.has_sync_permission(request):
            raise PermissionDenied
        try:
            report = tracker.check_connection()
        except tracker.TrackerError as err:
            self.message_user(request, f"Connection test failed. {err}", messages.ERROR)
            return redirect("admin:metrics_weeklymetric_sync")
        info = report.info
        self.message_user(
            request,
            f"Connected to PostHog at {info.host}, project {info.project_id} "
            f"({info.elapsed * 1000:.0f} ms)."
            + (f" The project's time zone is {info.timezone}." if info.timezone else ""),
            messages.SUCCESS,
        )
        for warning in report.warnings:
            self.message_user(request, warning, messages.WARNING)
        return redirect("admin:metrics_weeklymetric_sync")

    def _sync_context(self, request: HttpRequest, form: StartSyncForm) -> dict:
        status = tracker.get_sync_status()
        return {
            **self.admin_site.each_context(request),
            "title": "Sync with PostHog",
            "opts": self.opts,
            "status": status,
            "form": form,
            "can_sync": self.has_sync_permission(request),
            "recent_runs": SyncRun.objects.all()[:RECENT_RUNS],
            "integrations": _integrations(status),
            "posthog_host": settings.POSTHOG_HOST,
            "posthog_project_id": settings.POSTHOG_PROJECT_ID,
            "visitorsync_timezone": settings.VISITORSYNC_TIMEZONE,
            "week_start_day": settings.VISITORSYNC_WEEK_START.capitalize() + "s",
            "stale_after_display": _hours(status.stale_after),
            "running_progress_url": (
                reverse("admin:metrics_weeklymetric_sync_progress", args=[status.running.pk])
                if status.running
                else ""
            ),
            **(_result_context(status.last_run) if status.last_run else {}),
        }


def _hours(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} hour{'s' if hours != 1 else ''}" if hours < 48 else f"{hours / 24:g} days"


def _integrations(status: tracker.SyncStatus) -> list[dict]:
    """The secrets' state, by the one definition of "configured and usable" (metrics.auth)."""
    webhook = auth.WebhookConfig.from_settings()
    return [
        {
            "name": "Webhook authentication",
            "configured": status.webhook_secret_configured,
            "settings": [
                ("POSTHOG_WEBHOOK_SECRET", "set" if webhook.secrets else "not set"),
                (
                    "POSTHOG_WEBHOOK_SIGNING_SECRET",
                    "set but unusable" if webhook.problems else "set" if webhook.signing_keys else "not set",
                ),
            ],
            "problems": list(webhook.problems),
            "fix": "Set POSTHOG_WEBHOOK_SECRET (a shared secret you also put in the webhook's "
            "Authorization header in PostHog) or POSTHOG_WEBHOOK_SIGNING_SECRET (the whsec_... "
            "signing secret PostHog shows for the destination). See docs/connecting-posthog.md.",
        },
        {
            "name": "Cron endpoint authentication",
            "configured": status.cron_secret_configured,
            "settings": [("CRON_SECRET", "set" if status.cron_secret_configured else "not set")],
            "problems": [],
            "fix": "Set CRON_SECRET to a long random string and send it from your scheduler. "
            "See docs/scheduling.md.",
        },
    ]


def _result_context(run: SyncRun) -> dict:
    return {
        "result_run": run,
        "result_changes": tracker.run_changes(run)[:LARGEST_CHANGES],
        "result_more_changes": max(0, len(run.changes) - LARGEST_CHANGES),
    }


def _progress_json(run: SyncRun) -> dict:
    """The run for the sync page's script: the one JSON presentation plus the admin's links."""
    return {
        **run_json(run),
        "started_at_display": f"{timezone.localtime(run.started_at):%Y-%m-%d %H:%M:%S}",
        "progress_url": reverse("admin:metrics_weeklymetric_sync_progress", args=[run.pk]),
        "detail_url": reverse("admin:metrics_syncrun_change", args=[run.pk]),
    }


# --- SyncRun -------------------------------------------------------------------------------
@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    """Read-only history: runs are written by the tracker only."""

    list_display = [
        "__str__",
        "status_badge",
        "trigger",
        "started_by",
        "started_at",
        "duration_display",
        "weeks_checked",
        "weeks_created",
        "weeks_updated",
        "weeks_unchanged",
        "queries",
        "dry_run",
    ]
    list_display_links = ["__str__"]

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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SyncRun | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SyncRun | None = None) -> bool:
        return False

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: SyncRun) -> str:
        return format_html(
            '<span class="vs-status vs-status-{}">{}</span>', obj.status, obj.get_status_display()
        )

    @admin.display(description="Duration")
    def duration_display(self, obj: SyncRun) -> str:
        return f"{obj.duration.total_seconds():.1f} s" if obj.duration else "—"

    @admin.display(description="Per-week changes")
    def changes_table(self, obj: SyncRun) -> str:
        changes = tracker.run_changes(obj)
        if not changes:
            return "No week changed." if obj.status == SyncRun.Status.SUCCEEDED else "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{c.week_start:%Y-%m-%d}",
                    f"{'new' if c.created else f'{c.visitors_before:,}'} → {c.visitors_after:,}",
                    f"{'new' if c.created else f'{c.pageviews_before:,}'} → {c.pageviews_after:,}",
                    signed(c.visitors_delta) + " visitors",
                )
                for c in changes
            ),
        )
        return format_html(
            "<table><thead><tr><th>Week</th><th>Visitors</th><th>Pageviews</th><th>Change</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            rows,
        )
