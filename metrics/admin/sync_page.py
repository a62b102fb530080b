"""The sync page of the WeeklyMetric admin: status, test connection, start a sync, progress.

Custom admin views that `WeeklyMetricAdmin.get_urls` wires up; every action goes through
`metrics.jobs` or `metrics.tracker`. The page is HTML; the script's start and progress are
JSON views of their own.
"""

import datetime as dt
import json
from http import HTTPStatus

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from metrics import catalog, jobs, tracker
from metrics.admin import metric_changes, reports_panel
from metrics.admin.buttons import sync_button
from metrics.admin.forms import StartSyncForm
from metrics.core import counting, schedule, secrets
from metrics.core.definitions import Kind, MetricDefinition
from metrics.models import SyncRun
from metrics.presentation import (
    LARGEST_CHANGES,
    error_response,
    error_text,
    http_status_for,
    moment_text,
    run_json,
    run_summary,
)

RECENT_RUNS = 20


class SyncPage:
    """The sync page's views, for the WeeklyMetric admin (its permissions, messages and site)."""

    def __init__(self, model_admin: admin.ModelAdmin):
        self.model_admin = model_admin

    def sync_view(self, request: HttpRequest) -> HttpResponse:
        """GET: status, history and the start form. POST (the form without JavaScript): run a
        sync in the request, then show the page again with the result as a message."""
        model_admin = self.model_admin
        if not model_admin.has_view_permission(request):
            raise PermissionDenied
        form = StartSyncForm(request.POST if request.method == "POST" else None)
        if request.method == "POST":
            if not model_admin.has_sync_permission(request):
                raise PermissionDenied
            if form.is_valid():
                return self._run_sync(request, form)
        return TemplateResponse(
            request, "admin/metrics/weeklymetric/sync.html", self._sync_context(request, form)
        )

    def _run_sync(self, request: HttpRequest, form: StartSyncForm) -> HttpResponse:
        model_admin = self.model_admin
        try:
            pending = tracker.start_sync_all_metrics(_sync_options(request, form))
        except tracker.TrackerError as err:
            details = model_admin.has_view_runs_permission(request)
            model_admin.message_user(request, error_text(err, details=details), messages.ERROR)
            return redirect("admin:metrics_weeklymetric_sync")
        try:
            run = jobs.execute(pending)
        except tracker.TrackerError as err:
            model_admin.message_user(
                request, f"Sync #{pending.run.pk} failed; nothing was changed. {err}", messages.ERROR
            )
        else:
            model_admin.message_user(request, run_summary(run), messages.SUCCESS)
        return redirect("admin:metrics_weeklymetric_sync")

    @method_decorator(require_POST)
    def sync_start_view(self, request: HttpRequest) -> JsonResponse:
        """JSON for the page's script: start a sync in the background; 202 with the run to poll,
        409 naming the sync that holds the lock, 400 with the form's errors, 403 without the
        permission to start one."""
        model_admin = self.model_admin
        if not (model_admin.has_view_permission(request) and model_admin.has_sync_permission(request)):
            return error_response(HTTPStatus.FORBIDDEN, "You do not have permission to start a sync.")
        form = StartSyncForm(request.POST)
        if not form.is_valid():
            return error_response(
                HTTPStatus.BAD_REQUEST, "Please correct the form.", errors=form.errors.get_json_data()
            )
        details = model_admin.has_view_runs_permission(request)
        try:
            pending = tracker.start_sync_all_metrics(_sync_options(request, form))
        except tracker.TrackerError as err:
            holder = _progress_json(err.run, details=details) if err.run else None
            return error_response(http_status_for(err), error_text(err, details=details), running=holder)
        jobs.execute_in_background(pending)
        return JsonResponse(_progress_json(pending.run, details=details), status=HTTPStatus.ACCEPTED)

    def sync_progress_view(self, request: HttpRequest, run_id: int) -> JsonResponse:
        """JSON for the page to poll: weeks done of total and phase; the result once finished."""
        model_admin = self.model_admin
        if not model_admin.has_view_permission(request):
            return error_response(HTTPStatus.FORBIDDEN, "You do not have permission to view syncs.")
        run = jobs.get_run(run_id)  # a dead run shows as abandoned, not running forever
        if run is None:
            return error_response(HTTPStatus.NOT_FOUND, f"There is no sync #{run_id}.")
        details = model_admin.has_view_runs_permission(request)
        data = _progress_json(run, details=details)
        if details and run.status != SyncRun.Status.RUNNING:
            data["result_html"] = render_to_string(
                "admin/metrics/weeklymetric/sync_result.html", _result_context(run), request=request
            )
        return JsonResponse(data)

    @sync_button
    def test_connection_view(self, request: HttpRequest) -> HttpResponse:
        """POST: spend one trivial PostHog query and report the result as a message."""
        model_admin = self.model_admin
        try:
            report = tracker.check_connection()
        except tracker.TrackerError as err:
            model_admin.message_user(request, f"Connection test failed. {err}", messages.ERROR)
            return redirect("admin:metrics_weeklymetric_sync")
        info = report.info
        model_admin.message_user(
            request,
            f"Connected to PostHog at {info.host}, project {info.project_id} "
            f"({info.elapsed * 1000:.0f} ms)."
            + (f" The project's time zone is {info.timezone}." if info.timezone else ""),
            messages.SUCCESS,
        )
        for warning in report.warnings:
            model_admin.message_user(request, warning, messages.WARNING)
        return redirect("admin:metrics_weeklymetric_sync")

    def _sync_context(self, request: HttpRequest, form: StartSyncForm) -> dict:
        model_admin = self.model_admin
        status = jobs.get_sync_status()
        can_view_runs = model_admin.has_view_runs_permission(request)
        definitions = catalog.stored()  # one read for the webhook's events and the panel's watches
        return {
            **model_admin.admin_site.each_context(request),
            "title": "Sync with PostHog",
            "opts": model_admin.opts,
            "status": status,
            "form": form,
            "can_sync": model_admin.has_sync_permission(request),
            "can_view_runs": can_view_runs,
            "recent_runs": SyncRun.objects.all()[:RECENT_RUNS] if can_view_runs else [],
            "integrations": _integrations(status),
            "counting": _counting(),
            "destination_events": destination_events(definitions),
            **_planned_query(status),
            "posthog_host": settings.POSTHOG_HOST,
            "posthog_project_id": settings.POSTHOG_PROJECT_ID,
            "visitorsync_timezone": settings.VISITORSYNC_TIMEZONE,
            "week_start_day": settings.VISITORSYNC_WEEK_START.capitalize() + "s",
            "stale_after_display": _hours(status.stale_after),
            "sync_schedule": schedule.in_words(settings.VISITORSYNC_CRON_SCHEDULE),
            "abandon_after": settings.VISITORSYNC_SYNC_ABANDON_AFTER,
            "running_progress_url": (
                reverse("admin:metrics_weeklymetric_sync_progress", args=[status.running.pk])
                if status.running
                else ""
            ),
            **(_result_context(status.last_run, definitions) if status.last_run and can_view_runs else {}),
            **reports_panel.panel_context(definitions),
        }


def _sync_options(request: HttpRequest, form: StartSyncForm) -> tracker.SyncOptions:
    return tracker.SyncOptions(
        trigger=SyncRun.Trigger.ADMIN,
        since=form.cleaned_data["since"],
        dry_run=form.cleaned_data["dry_run"],
        started_by=request.user.get_username(),
    )


def _hours(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} hour{'s' if hours != 1 else ''}" if hours < 48 else f"{hours / 24:g} days"


def _integrations(status: tracker.SyncStatus) -> list[dict]:
    """The secrets' state, by the one definition of "configured and usable" (metrics.core.secrets)."""
    webhook = secrets.WebhookConfig.from_settings()
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


def _counting() -> list[tuple[str, str]]:
    """What the sync counts, in words (the settings of metrics.core.counting)."""
    hosts = counting.host_patterns()
    return [
        ("Events", ", ".join(counting.event_names()) + " (VISITORSYNC_EVENT)"),
        (
            "Hosts",
            (", ".join(str(h) for h in hosts) + ", and events without a $host" if hosts else "every host")
            + " (VISITORSYNC_HOSTS)",
        ),
        (
            "Internal and test users",
            (
                "Left out by the PostHog project's own filters (VISITORSYNC_FILTER_TEST_ACCOUNTS); tick "
                "“Filter out internal and test users” in the webhook destination too"
                if counting.filter_test_accounts()
                else "Counted (VISITORSYNC_FILTER_TEST_ACCOUNTS is off)"
            ),
        ),
    ]


def destination_events(definitions: tuple[MetricDefinition, ...]) -> tuple[str, ...]:
    """Every event the PostHog destination must send, as the webhook itself lists them
    (`tracker`'s `destination_events`): VISITORSYNC_EVENT's, then each counted user-defined
    metric's (`definitions`: `catalog.stored()`, already read by the page)."""
    counted = tuple(
        catalog.Counted(id=0, definition=definition)  # the id is not read: only the events
        for definition in definitions
        if not definition.built_in and definition.kind is not Kind.RATIO
    )
    return tracker.destination_events(counted, built_in=counting.event_names())


def _planned_query(status: tracker.SyncStatus) -> dict:
    if not status.posthog_configured:
        return {}
    planned = tracker.next_sync_query()
    filters = planned.query.get("filters")
    return {
        "planned_query": planned,
        "planned_hogql": planned.query["query"],
        "planned_filters": json.dumps(filters) if filters else "",
    }


def _result_context(run: SyncRun, definitions: tuple[MetricDefinition, ...] | None = None) -> dict:
    """The run's result; `definitions`: `catalog.stored()` if the page read it (else read only
    when a user-defined metric moved: the metrics that moved are shown in words)."""
    changes = tracker.run_changes(run)[:LARGEST_CHANGES]
    if (with_metrics := any(change.metrics for change in changes)) and definitions is None:
        definitions = catalog.stored()
    return {
        "result_run": run,
        "result_changes": changes,
        "result_rows": metric_changes.change_rows(changes, definitions if with_metrics else ()),
        "result_with_metrics": with_metrics,
        "result_more_changes": max(0, len(run.changes) - LARGEST_CHANGES),
    }


def _progress_json(run: SyncRun, *, details: bool) -> dict:
    """The run for the sync page's script: the one JSON presentation plus the admin's links.

    Without `details` ("Can view sync run") only the progress and counts: no error, no user,
    no changes, no link to the run's page.
    """
    return {
        **run_json(run, trusted=details),
        "started_at_display": moment_text(run.started_at),
        "progress_url": reverse("admin:metrics_weeklymetric_sync_progress", args=[run.pk]),
        **({"detail_url": reverse("admin:metrics_syncrun_change", args=[run.pk])} if details else {}),
    }
