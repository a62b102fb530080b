"""HTTP doors into the tracker: the PostHog webhook, the cron endpoint and the sync status.

Each view authenticates, parses its input, calls one tracker function and renders JSON.
"""

import datetime as dt
import logging
import re
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from metrics import tracker, webhook
from metrics.auth import bearer_token, parse_secrets, secret_matches
from metrics.models import SyncRun
from metrics.posthog import PostHogNotConfigured

logger = logging.getLogger(__name__)

CRON_PARAMETERS = ("since", "dry_run", "force")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BadParameter(ValueError):
    """A request parameter that cannot be used; the message names it and what to send."""


class UnreadableBody(BadParameter):
    """A body in a format the endpoint does not read (it would be silently ignored)."""


def _error(status: HTTPStatus, message: str, **extra) -> JsonResponse:
    return JsonResponse({"ok": False, "error": message, **extra}, status=status)


# --- Webhook -------------------------------------------------------------------------------
@csrf_exempt
def posthog_webhook(request: HttpRequest) -> JsonResponse:
    """PostHog's HTTP Webhook destination posts events here; GET answers a health document.

    2xx for anything accepted or deliberately not counted (so PostHog does not retry),
    4xx for what a retry cannot fix, 503 only when a retry could help.
    """
    if request.method == "GET":
        status, document = webhook.health()
        return JsonResponse(document, status=status)
    if request.method != "POST":
        response = JsonResponse(
            {
                "status": "error",
                "error": f"Method {request.method} not allowed: use POST (or GET for status).",
            },
            status=HTTPStatus.METHOD_NOT_ALLOWED,
        )
        response["Allow"] = "GET, POST"
        return response
    try:
        pageview = webhook.read_delivery(request)
    except webhook.WebhookError as err:
        if err.status == HTTPStatus.UNAUTHORIZED:
            logger.warning("webhook refused from %s: %s", request.META.get("REMOTE_ADDR"), err)
        else:
            logger.debug("webhook refused (%d): %s", err.status, err)
        response = JsonResponse(err.as_json(), status=err.status)
        if err.status == HTTPStatus.UNAUTHORIZED:
            response["WWW-Authenticate"] = 'Bearer realm="visitorsync webhook"'
        return response
    try:
        result = tracker.record_pageview(
            key=pageview.uuid,
            event=pageview.event,
            timestamp=pageview.timestamp,
            visitor_id=pageview.visitor_id,
        )
    except tracker.RecordingUnavailable as err:
        response = JsonResponse(
            {"status": "error", "error": f"{err} PostHog will retry this delivery."},
            status=HTTPStatus.SERVICE_UNAVAILABLE,
        )
        response["Retry-After"] = "2"
        return response
    # One line per outcome; the event uuid is PostHog's id of the event, not of the visitor.
    logger.debug("webhook key=%s status=%s week=%s", pageview.uuid, result.status, result.week_start)
    return JsonResponse(result.as_json(), status=HTTPStatus.OK)


# --- Cron endpoint -------------------------------------------------------------------------
@csrf_exempt  # machine-to-machine, authenticated by a bearer secret, never by a cookie
@never_cache
@require_http_methods(["GET", "POST"])
def cron_sync_visitors(request: HttpRequest) -> JsonResponse:
    """Run a full sync for a scheduler: `Authorization: Bearer <CRON_SECRET>`.

    Optional `since=YYYY-MM-DD`, `dry_run=1`, `force=1` in the query string or a form body.
    200 with the run's summary; 400 bad parameter; 401 bad secret; 409 a sync is already
    running; 415 a JSON (or other non-form) body; 422 wipe-out refused; 502 PostHog failed;
    503 not configured.
    """
    denied = _authenticate_cron(request)
    if denied is not None:
        return denied
    try:
        params = _cron_parameters(request)
    except UnreadableBody as err:
        return _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, str(err))
    except BadParameter as err:
        return _error(HTTPStatus.BAD_REQUEST, str(err))

    try:
        run = tracker.sync_all_metrics(trigger=SyncRun.Trigger.CRON, **params)
    except tracker.InvalidSyncRequest as err:
        return _error(HTTPStatus.BAD_REQUEST, str(err))
    except tracker.SyncInProgress as err:
        holder = err.run
        return _error(
            HTTPStatus.CONFLICT,
            str(err),
            running=(
                {
                    "id": holder.pk,
                    "trigger": holder.trigger,
                    "started_at": holder.started_at.isoformat(),
                }
                if holder
                else None
            ),
        )
    except tracker.WipeoutRefused as err:
        return _error(HTTPStatus.UNPROCESSABLE_ENTITY, str(err), run=_run_json(err.run))
    except tracker.SyncFailed as err:
        # Not configured is our problem, not PostHog's: 503 rather than 502.
        status = (
            HTTPStatus.SERVICE_UNAVAILABLE
            if isinstance(err.__cause__, PostHogNotConfigured)
            else HTTPStatus.BAD_GATEWAY
        )
        return _error(status, str(err), run=_run_json(err.run))
    return JsonResponse({"ok": True, "run": _run_json(run)})


def _authenticate_cron(request: HttpRequest) -> JsonResponse | None:
    """None if the request may run a sync, else the response that refuses it."""
    secrets = parse_secrets(settings.CRON_SECRET)
    if not secrets:
        if settings.DEBUG:
            logger.warning("cron endpoint called without CRON_SECRET; allowed only because DEBUG is on")
            return None
        return _error(
            HTTPStatus.SERVICE_UNAVAILABLE,
            "CRON_SECRET is not set, so the cron endpoint is disabled. Set CRON_SECRET to a "
            "long random string and send it as 'Authorization: Bearer <CRON_SECRET>'.",
        )
    if not secret_matches(bearer_token(request), secrets):
        logger.warning(
            "cron endpoint: missing or wrong bearer secret from %s", request.META.get("REMOTE_ADDR")
        )
        response = _error(
            HTTPStatus.UNAUTHORIZED,
            "Missing or wrong secret: send 'Authorization: Bearer <CRON_SECRET>'.",
        )
        response["WWW-Authenticate"] = 'Bearer realm="visitorsync cron"'
        return response
    return None


def _cron_parameters(request: HttpRequest) -> dict:
    """`since`, `dry_run` and `force` from the query string and a form body."""
    if request.method == "POST" and request.body and not request.content_type.startswith(_FORM_TYPES):
        raise UnreadableBody(
            f"A {request.content_type or 'typeless'} body is not read: send since, dry_run and "
            "force in the query string or as form fields."
        )
    values: dict[str, list[str]] = {}
    for source in (request.GET, request.POST):
        for key in source:
            values.setdefault(key, []).extend(source.getlist(key))
    unknown = sorted(set(values) - set(CRON_PARAMETERS))
    if unknown:
        raise BadParameter(
            f"Unknown parameter(s): {', '.join(unknown)}. Accepted: {', '.join(CRON_PARAMETERS)}."
        )
    single: dict[str, str] = {}
    for key, items in values.items():
        if len(items) > 1:
            raise BadParameter(f"{key} is given {len(items)} times; give it once.")
        single[key] = items[0].strip()

    params: dict = {
        "dry_run": _flag(single, "dry_run"),
        "force": _flag(single, "force"),
        "since": None,
    }
    if single.get("since"):
        text = single["since"]
        try:
            if not _DATE.match(text):
                raise ValueError
            params["since"] = dt.date.fromisoformat(text)
        except ValueError:
            raise BadParameter(f"since={text!r} is not a date; use YYYY-MM-DD.") from None
    return params


def _flag(values: dict[str, str], name: str) -> bool:
    text = values.get(name, "").lower()
    if text in _TRUE:
        return True
    if text in _FALSE or name not in values:
        return False
    raise BadParameter(f"{name}={values[name]!r} is not a yes/no value; use 1 or 0.")


def _run_json(run: SyncRun | None) -> dict | None:
    if run is None:
        return None
    duration = run.duration
    return {
        "id": run.pk,
        "status": run.status,
        "trigger": run.trigger,
        "dry_run": run.dry_run,
        "forced": run.forced,
        "first_week": _date(run.first_week),
        "last_week": _date(run.last_week),
        "weeks_checked": run.weeks_checked,
        "weeks_created": run.weeks_created,
        "weeks_updated": run.weeks_updated,
        "weeks_unchanged": run.weeks_unchanged,
        "queries": run.queries,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_seconds": round(duration.total_seconds(), 3) if duration is not None else None,
        "error": run.error,
        "changes": run.changes,
    }


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


# --- Status --------------------------------------------------------------------------------
@never_cache
@require_GET
def sync_status(request: HttpRequest) -> JsonResponse:
    """Integration health for monitors and the admin page, in a fixed number of queries.

    Open to anyone: booleans, counts, dates and run outcomes only, never a secret, a setting's
    value or a visitor. The text of the last error (which can name the PostHog host, project
    or event) is added only for a caller that presents a cron secret.
    """
    status = tracker.get_sync_status()
    trusted = secret_matches(bearer_token(request), parse_secrets(settings.CRON_SECRET))
    last_run = status.last_run
    last_success = status.last_success
    running = status.running
    body = {
        "healthy": status.posthog_configured and not status.stale,
        "posthog_configured": status.posthog_configured,
        "missing_settings": status.missing_settings,
        "webhook_secret_configured": status.webhook_secret_configured,
        "cron_secret_configured": status.cron_secret_configured,
        "schedule": settings.VISITORSYNC_CRON_SCHEDULE,
        "stale": status.stale,
        "stale_after_seconds": int(status.stale_after.total_seconds()),
        "running": (
            {
                "id": running.pk,
                "trigger": running.trigger,
                "started_at": running.started_at.isoformat(),
                "phase": running.phase,
                "weeks_done": running.weeks_done,
                "weeks_total": running.weeks_total,
            }
            if running
            else None
        ),
        "last_run": (
            {
                "id": last_run.pk,
                "status": last_run.status,
                "trigger": last_run.trigger,
                "dry_run": last_run.dry_run,
                "started_at": last_run.started_at.isoformat(),
                "finished_at": last_run.finished_at.isoformat() if last_run.finished_at else None,
                "failed": last_run.status == SyncRun.Status.FAILED,
                **({"error": last_run.error} if trusted else {}),
            }
            if last_run
            else None
        ),
        "last_success": (
            {
                "id": last_success.pk,
                "trigger": last_success.trigger,
                "finished_at": last_success.finished_at.isoformat(),
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
    return JsonResponse(body)
