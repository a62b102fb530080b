"""HTTP doors: the PostHog webhook, the cron endpoint and the sync status (the stats API and
the OpenAPI document are in metrics/api.py).

Each view authenticates, parses its input, calls one tracker function and renders JSON.
"""

import logging
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from metrics import auth, reports, tracker, webhook
from metrics.http import (
    FORM_TYPES,
    BadParameter,
    UnreadableBody,
    allow_methods,
    bearer_refusal,
    date_parameter,
    flag,
    single_values,
)
from metrics.logsafe import loggable
from metrics.models import SyncRun
from metrics.presentation import (
    error_json,
    error_response,
    http_status_for,
    report_json,
    run_json,
    status_json,
    tracker_error_response,
)

logger = logging.getLogger(__name__)

CRON_PARAMETERS = ("since", "dry_run", "force", "report")
DATABASE_UNAVAILABLE = "The database is unavailable right now; PostHog will retry this delivery."


# --- Webhook -------------------------------------------------------------------------------
@csrf_exempt
@allow_methods("GET", "POST")
def posthog_webhook(request: HttpRequest) -> JsonResponse:
    """PostHog's HTTP Webhook destination posts events here; GET answers a health document.

    2xx for anything accepted or deliberately not counted (so PostHog does not retry),
    4xx for what a retry cannot fix, 503 only when a retry could help.
    """
    if request.method == "GET":
        status, document = webhook.health()
        return JsonResponse(document, status=status)
    try:
        pageview = webhook.read_delivery(request)
    except webhook.WebhookError as err:
        status = http_status_for(err)
        unauthorized = status == HTTPStatus.UNAUTHORIZED
        if unauthorized:
            logger.warning(
                "webhook refused from %s: %s", loggable(request.META.get("REMOTE_ADDR")), loggable(err)
            )
        else:
            logger.debug("webhook refused (%d): %s", status, loggable(err))
        response = error_response(status, str(err), **({"field": err.field} if err.field else {}))
        if unauthorized:
            response["WWW-Authenticate"] = 'Bearer realm="visitorsync webhook"'
        return response
    try:
        result = tracker.record_pageview(
            key=pageview.uuid,
            event=pageview.event,
            timestamp=pageview.timestamp,
            visitor_id=pageview.visitor_id,
            host=pageview.host,
        )
    except tracker.RecordingUnavailable as err:
        # The tracker logged the driver's message; it names the database's host and port,
        # which PostHog would show to whoever can read the destination's logs.
        response = error_response(http_status_for(err), DATABASE_UNAVAILABLE)
        response["Retry-After"] = "2"
        return response
    except tracker.TrackerError as err:
        return error_response(http_status_for(err), str(err))
    # One line per outcome; the event uuid is PostHog's id of the event, not of the visitor.
    logger.debug(
        "webhook key=%s status=%s week=%s", loggable(pageview.uuid), result.status, result.week_start
    )
    return JsonResponse(result.as_json(), status=HTTPStatus.OK)


# --- Cron endpoint -------------------------------------------------------------------------
@csrf_exempt  # machine-to-machine, authenticated by a bearer secret, never by a cookie
@never_cache
@allow_methods("GET", "POST")
def cron_sync_visitors(request: HttpRequest) -> JsonResponse:
    """Run a full sync for a scheduler: `Authorization: Bearer <CRON_SECRET>`.

    Optional `since=YYYY-MM-DD`, `dry_run=1`, `force=1`, `report=1` (after a successful sync,
    mail the weekly report unless it went out already) in the query string or a form body.
    200 with the run's summary (and `report`: sent, or its error); 400 bad parameter; 401 bad
    secret; 409 a sync is already running; 415 a JSON (or other non-form) body; 422 wipe-out
    refused; 502 PostHog failed; 503 not configured.
    """
    denied = _authenticate_cron(request)
    if denied is not None:
        return denied
    try:
        params = _cron_parameters(request)
        send_report = params.pop("report")
        options = tracker.SyncOptions(trigger=SyncRun.Trigger.CRON, **params)
    except UnreadableBody as err:
        return error_response(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, str(err))
    except BadParameter as err:
        return error_response(HTTPStatus.BAD_REQUEST, str(err))
    try:
        run = tracker.sync_all_metrics(options)
    except tracker.TrackerError as err:
        return tracker_error_response(err)
    body = {"ok": True, "run": run_json(run)}
    if send_report and not options.dry_run:
        body["report"] = _send_report()
    return JsonResponse(body)


def _send_report() -> dict:
    """The weekly report after a cron sync: its outcome in the body, never a change of status
    (the sync did succeed; a mail problem is retried at the next call)."""
    try:
        return report_json(reports.send_weekly_report())
    except reports.ReportError as err:
        return error_json(str(err))


def _authenticate_cron(request: HttpRequest) -> JsonResponse | None:
    """None if the request may run a sync, else the response that refuses it."""
    secrets = auth.cron_secrets()
    if not secrets and settings.DEBUG:
        logger.warning("cron endpoint called without CRON_SECRET; allowed only because DEBUG is on")
        return None
    return bearer_refusal(
        request,
        secrets,
        realm="visitorsync cron",
        not_set="CRON_SECRET is not set, so the cron endpoint is disabled. Set CRON_SECRET to a "
        "long random string and send it as 'Authorization: Bearer <CRON_SECRET>'.",
        wrong="Missing or wrong secret: send 'Authorization: Bearer <CRON_SECRET>'.",
        log="cron endpoint: missing or wrong bearer secret from %s",
    )


def _cron_parameters(request: HttpRequest) -> dict:
    """`since`, `dry_run`, `force` and `report` from the query string and a form body."""
    if request.method == "POST" and request.body and not request.content_type.startswith(FORM_TYPES):
        raise UnreadableBody(
            f"A {request.content_type or 'typeless'} body is not read: send since, dry_run, "
            "force and report in the query string or as form fields."
        )
    single = single_values((request.GET, request.POST), CRON_PARAMETERS)
    return {
        "dry_run": flag(single, "dry_run"),
        "force": flag(single, "force"),
        "report": flag(single, "report"),
        "since": date_parameter(single, "since"),
    }


# --- Status --------------------------------------------------------------------------------
@never_cache
@allow_methods("GET")
def sync_status(request: HttpRequest) -> JsonResponse:
    """Integration health for monitors and the admin page, in a fixed number of queries.

    Open to anyone: booleans, counts, dates and run outcomes only, never a secret, a setting's
    value or a visitor. The text of the last error (which can name the PostHog host, project
    or event) is added only for a caller that presents a cron secret.
    """
    trusted = auth.secret_matches(auth.bearer_token(request), auth.cron_secrets())
    return JsonResponse(
        status_json(tracker.get_sync_status(), schedule=settings.VISITORSYNC_CRON_SCHEDULE, trusted=trusted)
    )
