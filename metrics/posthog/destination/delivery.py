"""Reading one delivery of PostHog's HTTP Webhook destination: authenticate, then read the body
within its limit, then parse it; and the GET health document."""

import datetime as dt
import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from metrics.core import counting
from metrics.core.errors import (
    WebhookNotConfigured,
    WebhookUnauthorized,
)
from metrics.core.secrets import AuthMode, WebhookConfig, bearer_token, secret_matches
from metrics.posthog.destination.body import read_body
from metrics.posthog.destination.payload import Pageview, parse_pageview
from metrics.posthog.destination.signature import verify_signature

logger = logging.getLogger(__name__)

METRICS_UNKNOWN = (
    "The metric definitions could not be read from the database just now, so send_events is "
    "unknown; deliveries are answered 503 until it answers."
)


def health(*, metric_events: Sequence[str] | None = ()) -> tuple[HTTPStatus, dict[str, Any]]:
    """The GET document: what counts, how deliveries authenticate, whether they are accepted.

    `events` are VISITORSYNC_EVENT's (the built-ins'); `send_events` every event the PostHog
    destination must send: those and `metric_events`, the user-defined metrics' (None: they
    could not be read now, so `send_events` is null and a warning says why)."""
    config = WebhookConfig.from_settings()
    refusal = _refusal(config)
    document: dict[str, Any] = {
        "endpoint": "PostHog HTTP Webhook destination",
        "accepting": refusal is None,
        "event": settings.VISITORSYNC_EVENT,
        "events": list(counting.event_names()),
        "send_events": None
        if metric_events is None
        else list(dict.fromkeys([*counting.event_names(), *metric_events])),
        "hosts": [str(pattern) for pattern in counting.host_patterns()],
        "auth": str(config.mode),
        "retention_weeks": settings.VISITORSYNC_WEBHOOK_RETENTION_WEEKS,
        "max_body_bytes": settings.VISITORSYNC_WEBHOOK_MAX_BODY,
        "warnings": config.warnings(),
    }
    if metric_events is None:
        document["warnings"] = [*document["warnings"], METRICS_UNKNOWN]
    if refusal:
        document["error"] = refusal
        return HTTPStatus.SERVICE_UNAVAILABLE, document
    return HTTPStatus.OK, document


def _refusal(config: WebhookConfig) -> str | None:
    """Why every delivery must be refused now (503): no usable secret, or settings of what
    counts that the sync refuses too (metrics.E004), so the two paths never disagree."""
    return config.refusal() or " ".join(counting.problems()) or None


def read_delivery(request: HttpRequest, *, now: dt.datetime | None = None) -> Pageview:
    """Authenticate the request, read its body within the size limit, and parse it.

    Raises a WebhookError subclass (503, 401, 411, 413 or 400) before any JSON is parsed when
    the request is not authenticated.
    """
    now = now or timezone.now()
    config = WebhookConfig.from_settings()
    refusal = _refusal(config)
    if refusal:
        raise WebhookNotConfigured(refusal)
    if config.mode is AuthMode.NONE:  # loud on purpose: only ever reached with DEBUG on
        logger.warning("webhook: %s", config.warnings()[0])
    if config.secrets:
        check_shared_secret(request, config.secrets)
    body = read_body(request, limit=settings.VISITORSYNC_WEBHOOK_MAX_BODY)
    if config.signing_keys:
        verify_signature(request, body, keys=config.signing_keys, now=now)
    return parse_pageview(body, now=now)


def check_shared_secret(request: HttpRequest, secrets: tuple[bytes, ...]) -> None:
    """Accept `Authorization: Bearer <secret>` or `X-Webhook-Secret: <secret>`."""
    presented = [bearer_token(request), request.headers.get("X-Webhook-Secret")]
    # Evaluate both, so the time taken does not say which header was tried.
    matches = [secret_matches(value, secrets) for value in presented]
    if not any(matches):
        if not any(presented):
            raise WebhookUnauthorized(
                "Missing secret: send it as 'Authorization: Bearer <secret>' or 'X-Webhook-Secret: "
                "<secret>' (a header of the PostHog destination)."
            )
        raise WebhookUnauthorized("Wrong secret: it does not match POSTHOG_WEBHOOK_SECRET.")
