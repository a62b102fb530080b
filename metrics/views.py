"""HTTP doors: the PostHog webhook, the cron endpoint, the sync status and the stats API.

Each view authenticates, parses its input, calls one tracker function and renders JSON.
"""

import datetime as dt
import functools
import hashlib
import json
import logging
import re
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import http_date
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from metrics import auth, reports, stats, tracker, webhook, weeks
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
STATS_PARAMETERS = ("from", "to", "format")
STATS_FORMATS = ("json", "csv")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
OPENAPI_DOCUMENT = Path(settings.BASE_DIR) / "docs" / "openapi.json"
DATABASE_UNAVAILABLE = "The database is unavailable right now; PostHog will retry this delivery."


class BadParameter(ValueError):
    """A request parameter that cannot be used; the message names it and what to send."""


class UnreadableBody(BadParameter):
    """A body in a format the endpoint does not read (it would be silently ignored)."""


def allow_methods(*methods: str) -> Callable:
    """Like Django's require_http_methods, but the 405 is the JSON error every endpoint answers."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method not in methods:
                allowed = ", ".join(methods)
                response = error_response(
                    HTTPStatus.METHOD_NOT_ALLOWED, f"Method {request.method} not allowed: use {allowed}."
                )
                response["Allow"] = allowed
                return response
            return view(request, *args, **kwargs)

        wrapper.allowed_methods = methods  # read by the test that compares routes with docs/openapi.json
        return wrapper

    return decorator


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
    if not secrets:
        if settings.DEBUG:
            logger.warning("cron endpoint called without CRON_SECRET; allowed only because DEBUG is on")
            return None
        return error_response(
            HTTPStatus.SERVICE_UNAVAILABLE,
            "CRON_SECRET is not set, so the cron endpoint is disabled. Set CRON_SECRET to a "
            "long random string and send it as 'Authorization: Bearer <CRON_SECRET>'.",
        )
    if not auth.secret_matches(auth.bearer_token(request), secrets):
        logger.warning(
            "cron endpoint: missing or wrong bearer secret from %s", loggable(request.META.get("REMOTE_ADDR"))
        )
        response = error_response(
            HTTPStatus.UNAUTHORIZED,
            "Missing or wrong secret: send 'Authorization: Bearer <CRON_SECRET>'.",
        )
        response["WWW-Authenticate"] = 'Bearer realm="visitorsync cron"'
        return response
    return None


def _cron_parameters(request: HttpRequest) -> dict:
    """`since`, `dry_run`, `force` and `report` from the query string and a form body."""
    if request.method == "POST" and request.body and not request.content_type.startswith(_FORM_TYPES):
        raise UnreadableBody(
            f"A {request.content_type or 'typeless'} body is not read: send since, dry_run, "
            "force and report in the query string or as form fields."
        )
    single = _single_values((request.GET, request.POST), CRON_PARAMETERS)
    return {
        "dry_run": _flag(single, "dry_run"),
        "force": _flag(single, "force"),
        "report": _flag(single, "report"),
        "since": _date_parameter(single, "since"),
    }


def _single_values(sources, accepted: tuple[str, ...]) -> dict[str, str]:
    """Each parameter's one value from `sources` (QueryDicts); unknown or repeated ones refused."""
    values: dict[str, list[str]] = {}
    for source in sources:
        for key in source:
            values.setdefault(key, []).extend(source.getlist(key))
    unknown = sorted(set(values) - set(accepted))
    if unknown:
        raise BadParameter(f"Unknown parameter(s): {', '.join(unknown)}. Accepted: {', '.join(accepted)}.")
    single: dict[str, str] = {}
    for key, items in values.items():
        if len(items) > 1:
            raise BadParameter(f"{key} is given {len(items)} times; give it once.")
        single[key] = items[0].strip()
    return single


def _date_parameter(values: dict[str, str], name: str) -> dt.date | None:
    text = values.get(name)
    if not text:
        return None
    try:
        if not _DATE.match(text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadParameter(f"{name}={text!r} is not a date; use YYYY-MM-DD.") from None


def _flag(values: dict[str, str], name: str) -> bool:
    text = values.get(name, "").lower()
    if text in _TRUE:
        return True
    if text in _FALSE or name not in values:
        return False
    raise BadParameter(f"{name}={values[name]!r} is not a yes/no value; use 1 or 0.")


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


# --- Stats API -----------------------------------------------------------------------------
@csrf_exempt  # machine-to-machine, authenticated by a bearer token, never by a cookie
@allow_methods("GET")
def weekly_stats(request: HttpRequest) -> HttpResponse:
    """The stored weeks for spreadsheets and BI tools: `Authorization: Bearer <token>` with a
    token from VISITORSYNC_API_TOKENS (read-only; the cron secret is not accepted).

    `from`/`to` (dates, each snapped to the start of its week; default: the first stored
    week through the current one), `format=json|csv`. 200, 304 (ETag / Last-Modified),
    400 bad or unknown parameter, 401 missing or wrong token, 503 no token configured.
    """
    denied = _authenticate_api(request)
    if denied is not None:
        return denied
    try:
        first, last, output = _stats_parameters(request)
    except BadParameter as err:
        return error_response(HTTPStatus.BAD_REQUEST, str(err))
    table = stats.weekly_stats(stats.weeks_between(first, last))
    if output == "csv":
        response = HttpResponse(
            stats.write_csv(table.rows), content_type="text/csv; charset=utf-8; header=present"
        )
        response["Content-Disposition"] = f'attachment; filename="{stats.csv_filename(table.rows)}"'
    else:
        document = {
            "ok": True,
            "from": first.isoformat() if first else None,
            "to": last.isoformat(),
            "current_week": weeks.current_week_start().isoformat(),
            "weeks": [row.as_json() for row in table.rows],
        }
        response = HttpResponse(json.dumps(document), content_type="application/json")
    # Revalidated on every poll (the numbers change all week), cheaply: an unchanged answer is
    # a 304 without a body. Private: it is behind a token.
    response["ETag"] = f'"{hashlib.sha256(response.content).hexdigest()[:32]}"'
    response["Last-Modified"] = http_date(table.last_modified.timestamp())
    response["Cache-Control"] = "private, no-cache"
    patch_vary_headers(response, ["Authorization"])
    conditional = get_conditional_response(
        request,
        etag=response["ETag"],
        last_modified=int(table.last_modified.timestamp()),
        response=response,
    )
    return conditional


def _authenticate_api(request: HttpRequest) -> HttpResponse | None:
    """None if the request may read the stats, else the response that refuses it."""
    tokens = auth.api_tokens()
    if not tokens:
        return error_response(
            HTTPStatus.SERVICE_UNAVAILABLE,
            "VISITORSYNC_API_TOKENS is not set, so the stats API is disabled. Set it to one or more "
            "long random tokens (comma-separated) and send one as 'Authorization: Bearer <token>'.",
        )
    if not auth.secret_matches(auth.bearer_token(request), tokens):
        logger.warning(
            "stats API: missing or wrong bearer token from %s", loggable(request.META.get("REMOTE_ADDR"))
        )
        response = error_response(
            HTTPStatus.UNAUTHORIZED,
            "Missing or wrong token: send 'Authorization: Bearer <token>' with a token from "
            "VISITORSYNC_API_TOKENS.",
        )
        response["WWW-Authenticate"] = 'Bearer realm="visitorsync stats"'
        return response
    return None


def _stats_parameters(request: HttpRequest) -> tuple[dt.date | None, dt.date, str]:
    """(first week start or None, last week start, format) from the query string."""
    single = _single_values((request.GET,), STATS_PARAMETERS)
    for name, value in single.items():
        if not value:  # a spreadsheet's empty cell would otherwise silently mean "all weeks"
            raise BadParameter(f"{name} is empty; give a value or leave the parameter out.")
    first, last = _date_parameter(single, "from"), _date_parameter(single, "to")
    for name, day in (("from", first), ("to", last)):
        if day is not None and day < weeks.EARLIEST_DAY:
            raise BadParameter(
                f"{name}={day.isoformat()} is before {weeks.EARLIEST_DAY.isoformat()}; no week that "
                "old is stored. Give a later date."
            )
    if first is not None and last is not None and first > last:
        raise BadParameter(f"from={first.isoformat()} is after to={last.isoformat()}; swap them.")
    output = single.get("format", "json")
    if output not in STATS_FORMATS:
        raise BadParameter(f"format={single['format']!r} is not a format; use json or csv.")
    first = weeks.week_start_for_date(first) if first else None
    last = weeks.week_start_for_date(last) if last else weeks.current_week_start()
    return first, last, output


# --- The OpenAPI document ------------------------------------------------------------------
@functools.cache
def _openapi_bytes() -> bytes:
    return OPENAPI_DOCUMENT.read_bytes()


@csrf_exempt  # so another method gets the JSON 405, not the CSRF failure page
@allow_methods("GET")
def openapi_document(request: HttpRequest) -> HttpResponse:
    """The OpenAPI 3.1 description of these endpoints, served from docs/openapi.json (its one source)."""
    return HttpResponse(_openapi_bytes(), content_type="application/json")
