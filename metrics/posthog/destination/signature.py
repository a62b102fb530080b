"""Standard Webhooks signatures: what PostHog's destination sends when it has a signing secret."""

import base64
import binascii
import datetime as dt
import hashlib
import hmac

from django.http import HttpRequest

from metrics.core.errors import WebhookUnauthorized

# Standard Webhooks: receivers reject timestamps further off than this, either way.
SIGNATURE_TOLERANCE = dt.timedelta(minutes=5)


def _digest(body: bytes, *, key: bytes, msg_id: str, timestamp: int) -> bytes:
    return hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def sign(body: bytes, *, key: bytes, msg_id: str, timestamp: int) -> str:
    """The Standard Webhooks `v1,<base64>` signature (what PostHog sends; tests and bench use it)."""
    return "v1," + base64.b64encode(_digest(body, key=key, msg_id=msg_id, timestamp=timestamp)).decode()


def verify_signature(request: HttpRequest, body: bytes, *, keys: tuple[bytes, ...], now: dt.datetime) -> None:
    """Check the Standard Webhooks headers; any one valid `v1` signature of several will do."""
    msg_id = request.headers.get("webhook-id", "")
    stamp = request.headers.get("webhook-timestamp", "")
    signatures = request.headers.get("webhook-signature", "")
    missing = [
        name
        for name, value in (
            ("webhook-id", msg_id),
            ("webhook-timestamp", stamp),
            ("webhook-signature", signatures),
        )
        if not value
    ]
    if missing:
        raise WebhookUnauthorized(
            f"Missing {', '.join(missing)} header(s): POSTHOG_WEBHOOK_SIGNING_SECRET is set, so every "
            "delivery must be signed. Set the same signing secret in the PostHog destination."
        )
    try:
        if not (stamp.isascii() and stamp.isdigit()):
            raise ValueError(stamp)
        sent_at = dt.datetime.fromtimestamp(int(stamp), tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise WebhookUnauthorized("webhook-timestamp must be a Unix time in seconds.") from None
    if abs(now - sent_at) > SIGNATURE_TOLERANCE:
        raise WebhookUnauthorized(
            f"webhook-timestamp is {abs(now - sent_at).total_seconds():.0f} s away from this server's "
            "clock (at most 300 s allowed): a replayed delivery, or a clock that needs NTP."
        )
    if not msg_id.isascii():
        raise WebhookUnauthorized("Invalid signature.")
    expected = [_digest(body, key=key, msg_id=msg_id, timestamp=int(stamp)) for key in keys]
    valid = False
    for entry in signatures.split(" "):
        version, _, value = entry.partition(",")
        if version != "v1" or not value.isascii():
            continue
        try:
            presented = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        for digest in expected:
            valid |= hmac.compare_digest(presented, digest)
    if not valid:
        raise WebhookUnauthorized(
            "Invalid signature: it does not match POSTHOG_WEBHOOK_SIGNING_SECRET (was the secret "
            "rotated in PostHog?)."
        )
