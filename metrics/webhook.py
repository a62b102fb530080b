"""PostHog HTTP Webhook deliveries: authentication, body limits and payload parsing.

The webhook view calls `read_delivery`, which authenticates the request before reading
any JSON, and hands the parsed `Pageview` to `tracker.record_pageview`. Nothing here
touches the database. Two ways to authenticate, usable together (then both must pass):

- a shared secret (`POSTHOG_WEBHOOK_SECRET`) in `Authorization: Bearer <secret>` or
  `X-Webhook-Secret: <secret>`, for the destination's custom headers;
- a Standard Webhooks signature (`POSTHOG_WEBHOOK_SIGNING_SECRET`, `whsec_...`) over the
  raw body, checked with the `webhook-id`, `webhook-timestamp` and `webhook-signature`
  headers.
"""

import base64
import binascii
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import logging
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from metrics import counting, weeks
from metrics.auth import AuthMode, WebhookConfig, bearer_token, secret_matches

logger = logging.getLogger(__name__)

# Standard Webhooks: receivers reject timestamps further off than this, either way.
SIGNATURE_TOLERANCE = dt.timedelta(minutes=5)
# PostHog moves event timestamps more than 23 hours in the future to "now" at ingestion,
# so a later one cannot be a real event (and would create a week the sync never visits).
FUTURE_TOLERANCE = dt.timedelta(days=1)
EARLIEST_EVENT = dt.datetime.combine(weeks.EARLIEST_DAY, dt.time.min, tzinfo=dt.UTC)
MAX_KEY_LENGTH = 255  # WebhookDelivery.key


# --- Errors ------------------------------------------------------------------------------
class WebhookError(Exception):
    """A delivery we refuse; `str(err)` says what to do, `field` names the payload field at fault.

    The type decides the answer (`metrics.presentation.http_status_for`).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class WebhookNotConfigured(WebhookError):
    """No usable secret in production: refuse everything until one is set."""


class WebhookUnauthorized(WebhookError):
    """No or a wrong secret or signature; the body was not parsed."""


class WebhookTooLarge(WebhookError):
    """The body is over VISITORSYNC_WEBHOOK_MAX_BODY."""


class WebhookLengthRequired(WebhookError):
    """A body without a Content-Length from a server that does not say where it ends."""


class WebhookBadPayload(WebhookError):
    """The body is not a delivery we can read; the message names what is wrong."""


def health() -> tuple[HTTPStatus, dict[str, Any]]:
    """The GET document: what counts, how deliveries authenticate, whether they are accepted."""
    config = WebhookConfig.from_settings()
    refusal = config.refusal()
    document: dict[str, Any] = {
        "endpoint": "PostHog HTTP Webhook destination",
        "accepting": refusal is None,
        "event": settings.VISITORSYNC_EVENT,
        "events": list(counting.event_names()),
        "hosts": [str(pattern) for pattern in counting.host_patterns()],
        "auth": str(config.mode),
        "retention_weeks": settings.VISITORSYNC_WEBHOOK_RETENTION_WEEKS,
        "max_body_bytes": settings.VISITORSYNC_WEBHOOK_MAX_BODY,
        "warnings": config.warnings(),
    }
    if refusal:
        document["error"] = refusal
        return HTTPStatus.SERVICE_UNAVAILABLE, document
    return HTTPStatus.OK, document


# --- Reading a delivery ------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Pageview:
    """The fields of a delivery that matter; `visitor_id` is None only for ignored events."""

    uuid: str
    event: str
    timestamp: dt.datetime  # aware
    visitor_id: str | None
    host: str | None = None  # event.properties.$host; mobile events have none


def read_delivery(request: HttpRequest, *, now: dt.datetime | None = None) -> Pageview:
    """Authenticate the request, read its body within the size limit, and parse it.

    Raises a WebhookError subclass (503, 401, 411, 413 or 400) before any JSON is parsed when
    the request is not authenticated.
    """
    now = now or timezone.now()
    config = WebhookConfig.from_settings()
    refusal = config.refusal()
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


def read_body(request: HttpRequest, *, limit: int) -> bytes:
    """The raw body, refusing one longer than `limit` without reading all of it.

    A body without a Content-Length (`Transfer-Encoding: chunked`) is read from the WSGI
    input when the server says it ends that input at the body's end
    (`wsgi.input_terminated`, which gunicorn sets); Django's own reader would see an empty
    body. From a server that does not say so, it is refused with 411.
    """
    too_large = WebhookTooLarge(
        f"Body larger than {limit} bytes (VISITORSYNC_WEBHOOK_MAX_BODY). A pageview is a few KiB: "
        "check the destination's body template."
    )
    length = request.META.get("CONTENT_LENGTH")
    if not length:
        return _read_unsized_body(request, limit=limit, too_large=too_large)
    try:
        declared = int(length or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        _discard(request, declared)
        raise too_large
    body = request.read(limit + 1)
    if len(body) > limit:
        _discard(request, declared)
        raise too_large
    return body


def _read_unsized_body(request: HttpRequest, *, limit: int, too_large: WebhookTooLarge) -> bytes:
    if not request.META.get("wsgi.input_terminated"):
        raise WebhookLengthRequired(
            "No Content-Length header, and this server does not tell the app where such a body "
            "ends: send the body with a Content-Length (PostHog does), or run visitorsync under "
            "gunicorn (scripts/serve), which reads chunked bodies."
        )
    stream = request.META["wsgi.input"]
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(READ_CHUNK, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    drained = 0
    while drained < DISCARD_LIMIT and (chunk := stream.read(READ_CHUNK)):
        drained += len(chunk)
    raise too_large


# Up to this much of a refused body is read and thrown away, so the 413 leaves the
# keep-alive connection usable (gunicorn drops a connection whose request body was left
# unread, and PostHog's next delivery on it would fail). Larger bodies are not worth it.
DISCARD_LIMIT = 1024 * 1024
READ_CHUNK = 64 * 1024


def _discard(request: HttpRequest, declared: int) -> None:
    if declared > DISCARD_LIMIT:
        return
    while request.read(READ_CHUNK):
        pass


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


def parse_pageview(body: bytes, *, now: dt.datetime) -> Pageview:
    """Parse PostHog's default destination body `{"event": {...}, "person": {...}}`."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as err:
        raise WebhookBadPayload(f"The body is not valid JSON ({_short(err)}).") from None
    if not isinstance(payload, dict):
        raise WebhookBadPayload('The body must be a JSON object like {"event": {...}, "person": {...}}.')
    event = payload.get("event")
    if not isinstance(event, dict):
        raise WebhookBadPayload(
            "'event' must be an object: keep the destination's default body "
            '{"event": "{event}", "person": "{person}"}.',
            field="event",
        )
    uuid = _required_string(event, "uuid")
    if len(uuid) > MAX_KEY_LENGTH:
        raise WebhookBadPayload(f"event.uuid is longer than {MAX_KEY_LENGTH} characters.", field="event.uuid")
    if "\x00" in uuid:  # PostgreSQL cannot store it: refuse instead of failing with a 5xx
        raise WebhookBadPayload("event.uuid must not contain NUL characters.", field="event.uuid")
    name = _required_string(event, "event")
    timestamp = _parse_timestamp(_required_string(event, "timestamp"), now=now)
    visitor_id = None
    if counting.counts_event(name):
        visitor_id = _visitor_id(payload.get("person"), event.get("distinct_id"))
    return Pageview(uuid=uuid, event=name, timestamp=timestamp, visitor_id=visitor_id, host=_host(event))


def _required_string(event: dict, name: str) -> str:
    value = event.get(name)
    if value is None:
        raise WebhookBadPayload(f"event.{name} is missing.", field=f"event.{name}")
    if not isinstance(value, str) or not value.strip():
        raise WebhookBadPayload(f"event.{name} must be a non-empty string.", field=f"event.{name}")
    if not _encodable(value):
        raise WebhookBadPayload(f"event.{name} is not valid Unicode text.", field=f"event.{name}")
    return value.strip()


def _encodable(value: str) -> bool:
    """False for strings JSON allows but no database can store (lone surrogates like \ud800)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _parse_timestamp(value: str, *, now: dt.datetime) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise WebhookBadPayload(
            f"event.timestamp {value[:40]!r} is not an ISO 8601 date and time "
            "(like 2025-03-10T14:22:05.123Z).",
            field="event.timestamp",
        ) from None
    if moment.tzinfo is None:  # PostHog stores UTC; an offset-less timestamp is UTC
        moment = moment.replace(tzinfo=dt.UTC)
    try:
        moment = moment.astimezone(dt.UTC)
    except OverflowError:
        raise WebhookBadPayload(
            f"event.timestamp {value[:40]!r} is out of range.", field="event.timestamp"
        ) from None
    if moment < EARLIEST_EVENT:
        raise WebhookBadPayload(
            f"event.timestamp {value[:40]!r} is before {EARLIEST_EVENT:%Y}: not a real pageview.",
            field="event.timestamp",
        )
    if moment > now + FUTURE_TOLERANCE:
        raise WebhookBadPayload(
            f"event.timestamp {value[:40]!r} is more than a day in the future.", field="event.timestamp"
        )
    return moment


def _host(event: dict) -> str | None:
    """`$host` from the event's properties (posthog-js sends location.host); None if absent."""
    properties = event.get("properties")
    host = properties.get("$host") if isinstance(properties, dict) else None
    if isinstance(host, str) and host.strip() and _encodable(host):
        return host.strip()
    return None


def _visitor_id(person: Any, distinct_id: Any) -> str:
    if isinstance(person, dict):
        person_id = person.get("id")
        if isinstance(person_id, str) and person_id.strip() and _encodable(person_id):
            return person_id.strip()
    if isinstance(distinct_id, str) and distinct_id.strip() and _encodable(distinct_id):
        return distinct_id.strip()
    raise WebhookBadPayload(
        "No visitor: person.id or event.distinct_id must be a non-empty string.", field="event.distinct_id"
    )


def _short(err: Exception) -> str:
    return str(err)[:120] or type(err).__name__
