"""The cron door (`/api/cron/sync-visitors`): a scheduler runs a full sync, then the alert check
(and, with `report=1`, the weekly report)."""

import logging
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from metrics import jobs, reports, tracker
from metrics.core import secrets
from metrics.core.errors import BadParameter, UnreadableBody
from metrics.http.params import (
    FORM_TYPES,
    allow_methods,
    bearer_refusal,
    date_parameter,
    flag,
    single_values,
)
from metrics.models import SyncRun
from metrics.presentation import (
    error_json,
    error_response,
    report_queued_json,
    run_json,
    tracker_error_response,
)

logger = logging.getLogger(__name__)

CRON_PARAMETERS = ("since", "dry_run", "force", "report")


@csrf_exempt  # machine-to-machine, authenticated by a bearer secret, never by a cookie
@never_cache
@allow_methods("GET", "POST")
def cron_sync_visitors(request: HttpRequest) -> JsonResponse:
    """Run a full sync for a scheduler: `Authorization: Bearer <CRON_SECRET>`.

    Optional `since=YYYY-MM-DD`, `dry_run=1`, `force=1`, `report=1` (after a successful sync,
    mail the weekly report unless it went out already) in the query string or a form body.
    The alert check and the report's mail follow the answer.
    200 with the run's summary (and `report`: how many it is queued for, or its error); 400
    bad parameter; 401 bad secret; 409 a sync is already running; 415 a JSON (or other
    non-form) body; 422 wipe-out refused; 502 PostHog failed; 503 not configured.
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
    # The alert check and the report's sends run once the answer is out: a slow mail server
    # or alert webhook never holds the scheduler.
    after = jobs.AfterAnswer()
    try:
        run = jobs.sync_all_metrics(options, after=after)
    except tracker.TrackerError as err:
        return after.attach(tracker_error_response(err))
    body = {"ok": True, "run": run_json(run)}
    if send_report and not options.dry_run:
        body["report"] = _queue_report(after)
    return after.attach(JsonResponse(body))


def _queue_report(after: jobs.AfterAnswer) -> dict:
    """The weekly report after a cron sync, sent after the answer: who it goes to in the body
    (`queued`), or why it cannot go; never a change of status (the sync did succeed; a mail
    problem is retried at the next call)."""
    try:
        return report_queued_json(jobs.queue_weekly_report(after=after))
    except reports.ReportError as err:
        return error_json(str(err))


def _authenticate_cron(request: HttpRequest) -> JsonResponse | None:
    """None if the request may run a sync, else the response that refuses it."""
    configured = secrets.cron_secrets()
    if not configured and settings.DEBUG:
        logger.warning("cron endpoint called without CRON_SECRET; allowed only because DEBUG is on")
        return None
    return bearer_refusal(
        request,
        configured,
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
