"""One presentation of a sync run, a status and an error, for every door.

The JSON endpoints, the admin (its progress endpoint, messages and pages) and the
management command turn runs and errors into JSON or text here and nowhere else. Every
JSON error, from every endpoint, has the shape `{"ok": false, "error": "<message>", ...}`
with context keys where they apply (`field`, `run`, `running`, `errors`); the HTTP status
of an error is decided by its type, in `http_status_for`.
"""

import datetime as dt
from http import HTTPStatus
from typing import Any

from django.http import JsonResponse
from django.utils import timezone
from django.utils.timesince import timesince

from metrics import catalog, tracker
from metrics.core.errors import InvalidMetricDefinition
from metrics.models import SyncRun
from metrics.numbers import METRICS
from metrics.posthog import destination

# The first row with a matching type decides, so more specific types come first: a sync that
# failed because PostHog is not configured is our problem (503), not PostHog's (502).
_ERROR_STATUSES: tuple[tuple[HTTPStatus, tuple[type[Exception], ...]], ...] = (
    (
        HTTPStatus.BAD_REQUEST,
        (
            tracker.InvalidSyncRequest,
            tracker.InvalidPageview,
            destination.WebhookBadPayload,
            InvalidMetricDefinition,
        ),
    ),
    # LockLost: the run was presumed dead and another took the lock, so it stepped back.
    (HTTPStatus.CONFLICT, (tracker.SyncInProgress, tracker.LockLost)),
    (HTTPStatus.UNPROCESSABLE_ENTITY, (tracker.WipeoutRefused,)),
    (
        HTTPStatus.SERVICE_UNAVAILABLE,
        (
            tracker.NotConfigured,
            tracker.DatabaseUnavailable,
            tracker.RecordingUnavailable,
            destination.WebhookNotConfigured,
        ),
    ),
    (HTTPStatus.BAD_GATEWAY, (tracker.SyncFailed, tracker.ConnectionTestFailed)),
    (HTTPStatus.UNAUTHORIZED, (destination.WebhookUnauthorized,)),
    (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, (destination.WebhookTooLarge,)),
    (HTTPStatus.LENGTH_REQUIRED, (destination.WebhookLengthRequired,)),
)


# The command and the admin's sync page show a run's largest changes, not a line per week of
# a first sync's years.
LARGEST_CHANGES = 10


def http_status_for(err: Exception) -> HTTPStatus:
    """The HTTP answer to an error a door met, by its type."""
    for status, error_types in _ERROR_STATUSES:
        if isinstance(err, error_types):
            return status
    return HTTPStatus.INTERNAL_SERVER_ERROR


def error_json(message: str, **context: Any) -> dict[str, Any]:
    """The one error body: `{"ok": false, "error": message}` plus context keys."""
    return {"ok": False, "error": message, **context}


def error_response(status: HTTPStatus, message: str, **context: Any) -> JsonResponse:
    return JsonResponse(error_json(message, **context), status=status)


def error_text(err: tracker.TrackerError, *, details: bool = True) -> str:
    """The error in words; without `details` ("Can view sync run") a lock holder's message
    does not say who started it."""
    if details or not isinstance(err, tracker.SyncInProgress) or err.run is None:
        return str(err)
    holder = err.run
    return (
        f"Sync #{holder.pk} ({holder.get_trigger_display()}) has been running since "
        f"{moment_text(holder.started_at)} {timezone.localtime(holder.started_at):%Z}; wait for it to finish."
    )


def tracker_error_response(err: tracker.TrackerError) -> JsonResponse:
    """A tracker error as JSON: its status by type, and the run it is about."""
    context: dict[str, Any] = {}
    if isinstance(err, tracker.SyncInProgress):
        context["running"] = run_json(err.run) if err.run else None
    elif err.run is not None:
        context["run"] = run_json(err.run)
    return error_response(http_status_for(err), str(err), **context)


def run_json(run: SyncRun, *, trusted: bool = True) -> dict[str, Any]:
    """A run as JSON. Only a `trusted` caller sees who started it, its error and its changes
    (the error can name the PostHog host, project or event)."""
    duration = run.duration
    body: dict[str, Any] = {
        "id": run.pk,
        "status": run.status,
        "status_display": run.get_status_display(),
        "trigger": run.trigger,
        "trigger_display": run.get_trigger_display(),
        "dry_run": run.dry_run,
        "forced": run.forced,
        "first_week": _date(run.first_week),
        "last_week": _date(run.last_week),
        "phase": run.phase,
        "weeks_total": run.weeks_total,
        "weeks_done": run.weeks_done,
        "weeks_checked": run.weeks_checked,
        "weeks_created": run.weeks_created,
        "weeks_updated": run.weeks_updated,
        "weeks_unchanged": run.weeks_unchanged,
        "queries": run.queries,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_seconds": round(duration.total_seconds(), 3) if duration is not None else None,
    }
    if trusted:
        body |= {"started_by": run.started_by, "error": run.error, "changes": run.changes}
    return body


def run_summary(run: SyncRun) -> str:
    """One sentence saying what a finished run did (admin messages, the command's output)."""
    if run.status == SyncRun.Status.FAILED:
        return f"Sync #{run.pk} failed: {run.error}"
    did = "Dry run, nothing written: would have" if run.dry_run else "Synced"
    duration = f" in {run.duration.total_seconds():.1f} s" if run.duration else ""
    return (
        f"Sync #{run.pk}. {did} {run.weeks_checked} weeks ({run.first_week} to {run.last_week}): "
        f"{run.weeks_created} created, {run.weeks_updated} updated, {run.weeks_unchanged} unchanged; "
        f"{run.queries} PostHog quer{'y' if run.queries == 1 else 'ies'}{duration}."
    )


def change_lines(run: SyncRun, *, limit: int | None = LARGEST_CHANGES) -> list[str]:
    """A line per week the run changed, most telling first (WeekChange.rank): the first `limit`
    (all when None), then "and N more" with where to see them all."""
    changes = tracker.run_changes(run)
    lines = []
    for change in changes[:limit]:
        before = "new" if change.created else f"{change.visitors_before:,} / {change.pageviews_before:,}"
        after = f"{change.visitors_after:,} / {change.pageviews_after:,}"
        lines.append(
            f"week {change.week_start}: visitors / pageviews {before} -> {after} "
            f"({signed(change.visitors_delta)} visitors)"
        )
    if limit is not None and len(changes) > limit:
        more = len(changes) - limit
        lines.append(
            f"and {more} more week{'s' if more != 1 else ''} changed "
            f"(see sync #{run.pk} in the admin's sync runs; -v 2 prints every week)"
        )
    return lines


def status_json(status: tracker.SyncStatus, *, schedule: str, trusted: bool) -> dict[str, Any]:
    """`/api/sync`'s document: booleans, counts, dates and run outcomes, never a secret's value.

    Only a `trusted` caller (one that presents the cron secret) sees runs in full.
    """
    last_run, last_success, running = status.last_run, status.last_success, status.running
    return {
        "healthy": status.healthy,
        "posthog_configured": status.posthog_configured,
        "missing_settings": status.missing_settings,
        "settings_to_fix": status.settings_to_fix,
        # The messages can quote a setting's value (a malformed host, say): trusted callers only.
        **({"configuration_problems": status.posthog_problems} if trusted else {}),
        "webhook_secret_configured": status.webhook_secret_configured,
        "cron_secret_configured": status.cron_secret_configured,
        "schedule": schedule,
        "stale": status.stale,
        "stale_after_seconds": int(status.stale_after.total_seconds()),
        "abandoned": status.abandoned,
        "running": run_json(running, trusted=trusted) if running else None,
        "last_run": (
            {
                **run_json(last_run, trusted=trusted),
                "failed": last_run.status == SyncRun.Status.FAILED,
                "abandoned": last_run.abandoned,
            }
            if last_run
            else None
        ),
        "last_success": (
            {
                **run_json(last_success, trusted=trusted),
                "age_seconds": int((timezone.now() - last_success.finished_at).total_seconds()),
            }
            if last_success
            else None
        ),
        "success_count": status.success_count,
        "failure_count": status.failure_count,
        "weeks_stored": status.weeks_stored,
        "newest_week": _date(status.newest_week),
        "oldest_week": _date(status.oldest_week),
    }


def moment_text(moment: dt.datetime) -> str:
    """A moment as every page writes it, 2026-12-06 01:51 in TIME_ZONE (the DATETIME_FORMAT of
    visitorsync/formats, which Django's own fields follow)."""
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def ago(moment: dt.datetime | None, depth: int = 2) -> str:
    """A past moment in words: "just now", "5 minutes ago", "2 days, 3 hours ago"."""
    if moment is None:
        return ""
    if timezone.now() - moment < dt.timedelta(minutes=1):
        return "just now"  # timesince would say "0 minutes"
    return f"{timesince(moment, depth=depth)} ago"


def signed(value: int) -> str:
    return f"{value:+,}" if value else "0"


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def report_summary(result) -> str:
    """One line on a weekly report send (metrics.reports.ReportResult), for every door."""
    week = result.report.week.week_start
    if result.dry_run:
        who = ", ".join(result.sent) or "nobody (everyone has it already)"
        return f"Dry run: the report for the week of {week} would go to {who}."
    sent = f"sent to {', '.join(result.sent)}" if result.sent else "sent to nobody new"
    already = f"; {len(result.skipped)} already had it" if result.skipped else ""
    return f"Weekly report for the week of {week} {sent}{already}."


def report_queued_json(plan) -> dict[str, Any]:
    """A report whose sends follow the answer (the cron endpoint's `report`): `queued` is how
    many recipients it goes to, `sent` 0 (nothing has gone out when the answer does)."""
    return {**report_json(plan), "sent": 0, "queued": len(plan.sent)}


def report_queued_summary(plan) -> str:
    """One line on a report whose sends follow the answer (the admin's test report)."""
    week = plan.report.week.week_start
    if not plan.sent:
        return f"The report for the week of {week} goes to nobody new ({len(plan.skipped)} already had it)."
    return (
        f"Sending the report for the week of {week} to {', '.join(plan.sent)} now: reload this page in "
        "a few seconds to see it under Reports and alerts."
    )


def report_json(result) -> dict[str, Any]:
    """A weekly report send as JSON (the cron endpoint's `report`)."""
    week = result.report.week
    return {
        "ok": True,
        "week": week.week_start.isoformat(),
        **{name: week.value(name) for name in METRICS},
        # Every metric's number of the week by key, built-ins included (the stats API's "metrics").
        "metrics": dict(week.metrics) or {name: week.value(name) for name in METRICS},
        "confirmed": week.confirmed,
        "sent": len(result.sent),
        "already_sent": len(result.skipped),
    }


def import_lines(plan: catalog.ImportPlan) -> list[str]:
    """One line per metric an import of metric definitions creates or changes."""
    verb = ("would create", "would update") if plan.dry_run else ("created", "updated")
    lines = [f"{verb[0]} {key}" for key in plan.created]
    lines += [f"{verb[1]} {key}: {', '.join(fields)}" for key, fields in plan.updated]
    return lines


def import_summary(plan: catalog.ImportPlan) -> str:
    """One sentence on an import of metric definitions (manage.py import_metrics)."""
    counts = f"{len(plan.created)} new, {len(plan.updated)} changed, {len(plan.unchanged)} unchanged"
    if plan.dry_run:
        return f"Dry run, nothing written: {counts}."
    return f"Imported metric definitions: {counts}."
