"""PostHog HTTP Webhook deliveries: authentication, body limits and payload parsing.

The webhook view calls `read_delivery`, which authenticates the request before reading
any JSON, and hands the parsed `Pageview` to `tracker.record_pageview`. Nothing here
touches the database. Two ways to authenticate, usable together (then both must pass):

- a shared secret (`POSTHOG_WEBHOOK_SECRET`) in `Authorization: Bearer <secret>` or
  `X-Webhook-Secret: <secret>`, for the destination's custom headers;
- a Standard Webhooks signature (`POSTHOG_WEBHOOK_SIGNING_SECRET`, `whsec_...`) over the
  raw body, checked with the `webhook-id`, `webhook-timestamp` and `webhook-signature`
  headers.

Inside: `delivery.py` (reading a delivery, the health document), `body.py` (the size limit,
chunked bodies), `signature.py` (Standard Webhooks), `payload.py` (the destination's body).
One error type per refusal (`WebhookError` and its subclasses, in `metrics.core.errors`) is
re-exported here.
"""

from metrics.core.errors import (
    WebhookBadPayload,
    WebhookError,
    WebhookLengthRequired,
    WebhookNotConfigured,
    WebhookTooLarge,
    WebhookUnauthorized,
)
from metrics.posthog.destination.body import read_body
from metrics.posthog.destination.delivery import check_shared_secret, health, read_delivery
from metrics.posthog.destination.payload import Pageview, parse_pageview
from metrics.posthog.destination.signature import sign, verify_signature

__all__ = [
    "Pageview",
    "WebhookBadPayload",
    "WebhookError",
    "WebhookLengthRequired",
    "WebhookNotConfigured",
    "WebhookTooLarge",
    "WebhookUnauthorized",
    "check_shared_secret",
    "health",
    "parse_pageview",
    "read_body",
    "read_delivery",
    "sign",
    "verify_signature",
]
