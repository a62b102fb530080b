"""Builders for PostHog HTTP Webhook deliveries, shaped like the destination's default body."""

import base64
import datetime as dt
import json
import time
import uuid as uuid_module

from django.test import Client
from django.utils import timezone

from metrics.posthog.destination import sign
from tests.support.helpers import WEBHOOK_SECRET as SECRET

URL = "/api/webhooks/posthog"
# The Standard Webhooks test vector from POSTHOG.md.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def pageview(
    *,
    uuid: str | None = None,
    visitor: str | None = "person-1",
    timestamp: dt.datetime | str | None = None,
    event: str = "$pageview",
    distinct_id: str = "distinct-1",
    host: str | None = None,
) -> dict:
    """A delivery body; `visitor=None` leaves out `person` (an anonymous event); `host` sets
    `properties.$host` (posthog-js always sends one; mobile SDKs do not)."""
    moment = timestamp or timezone.now()
    stamp = (
        moment if isinstance(moment, str) else moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    )
    body = {
        "event": {
            "uuid": uuid or str(uuid_module.uuid4()),
            "event": event,
            "distinct_id": distinct_id,
            "properties": {
                "$current_url": f"https://{host or 'example.com'}/pricing",
                "$pathname": "/pricing",
                **({"$host": host} if host else {}),
            },
            "timestamp": stamp,
            "elements_chain": "",
        }
    }
    if visitor is not None:
        body["person"] = {"id": visitor, "name": "someone", "properties": {}}
    return body


def encode(body: dict | bytes | str) -> bytes:
    if isinstance(body, bytes):
        return body
    return body.encode() if isinstance(body, str) else json.dumps(body).encode()


def post(
    client: Client, body: dict | bytes | str, *, secret: str | None = SECRET, headers: dict | None = None
):
    """POST a delivery with the shared secret (None: without) and any extra headers."""
    all_headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    all_headers.update(headers or {})
    return client.post(URL, data=encode(body), content_type="application/json", headers=all_headers)


def signed_headers(
    body: bytes, *, secret: str = VECTOR_SECRET, msg_id: str = "msg_1", timestamp: int | None = None
) -> dict[str, str]:
    """Standard Webhooks headers for `body`, signed the way PostHog signs."""
    stamp = int(time.time()) if timestamp is None else timestamp
    key = base64.b64decode(secret.removeprefix("whsec_"))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(body, key=key, msg_id=msg_id, timestamp=stamp),
    }
