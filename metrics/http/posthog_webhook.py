"""The PostHog webhook door (`/api/webhooks/posthog`): PostHog's HTTP Webhook destination posts
each event here; GET answers a health document."""

import logging
from http import HTTPStatus

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from metrics import tracker
from metrics.core.logsafe import loggable
from metrics.http.database_wait import own_database_wait
from metrics.http.params import allow_methods, unauthorized
from metrics.posthog import destination
from metrics.presentation import error_response, http_status_for

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "The database is unavailable right now; PostHog will retry this delivery."


@csrf_exempt
@own_database_wait  # VISITORSYNC_WEBHOOK_DB_TIMEOUT bounds the whole delivery (tracker.record_pageview)
@allow_methods("GET", "POST")
def posthog_webhook(request: HttpRequest) -> JsonResponse:
    """PostHog's HTTP Webhook destination posts events here; GET answers a health document.

    2xx for anything accepted or deliberately not counted (so PostHog does not retry),
    4xx for what a retry cannot fix, 503 only when a retry could help.
    """
    if request.method == "GET":
        status, document = destination.health(metric_events=tracker.metric_events())
        return JsonResponse(document, status=status)
    try:
        pageview = destination.read_delivery(request)
    except destination.WebhookError as err:
        status = http_status_for(err)
        context = {"field": err.field} if err.field else {}
        if status == HTTPStatus.UNAUTHORIZED:
            logger.warning(
                "webhook refused from %s: %s", loggable(request.META.get("REMOTE_ADDR")), loggable(err)
            )
            return unauthorized(str(err), realm="visitorsync webhook", **context)
        logger.debug("webhook refused (%d): %s", status, loggable(err))
        return error_response(status, str(err), **context)
    try:
        result = tracker.record_pageview(
            key=pageview.uuid,
            event=pageview.event,
            timestamp=pageview.timestamp,
            visitor_id=pageview.visitor_id,
            host=pageview.host,
            properties=pageview.properties,
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
