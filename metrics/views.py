"""HTTP doors into the tracker service. Each parses its input, calls one service function
and renders the result as JSON."""

import logging
from http import HTTPStatus

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from metrics import tracker, webhook

logger = logging.getLogger(__name__)


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
    return JsonResponse(result.as_json(), status=HTTPStatus.OK)
