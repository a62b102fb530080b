"""PostHog's destination body, read into the fields that count: `Pageview`."""

import dataclasses
import datetime as dt
import json
from typing import Any

from metrics.core import counting, weeks
from metrics.core.errors import WebhookBadPayload

# PostHog moves event timestamps more than 23 hours in the future to "now" at ingestion,
# so a later one cannot be a real event (and would create a week the sync never visits).
FUTURE_TOLERANCE = dt.timedelta(days=1)
EARLIEST_EVENT = dt.datetime.combine(weeks.EARLIEST_DAY, dt.time.min, tzinfo=dt.UTC)
MAX_KEY_LENGTH = 255  # WebhookDelivery.key


@dataclasses.dataclass(frozen=True)
class Pageview:
    """The fields of a delivery that matter. `visitor_id` is None only for an event outside
    VISITORSYNC_EVENT without a usable person.id or distinct_id (a count or sum metric needs
    none); `properties` is event.properties as json.loads gives it ({} if absent)."""

    uuid: str
    event: str
    timestamp: dt.datetime  # aware
    visitor_id: str | None
    host: str | None = None  # event.properties.$host; mobile events have none
    properties: dict[str, Any] = dataclasses.field(default_factory=dict)


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
    person, distinct_id = payload.get("person"), event.get("distinct_id")
    if counting.counts_event(name):
        visitor_id = _visitor_id(person, distinct_id)
    else:
        # Whether a user-defined unique metric counts this event is the tracker's to say
        # (it reads the definitions); it refuses a visitor-less event only then.
        try:
            visitor_id = _visitor_id(person, distinct_id)
        except WebhookBadPayload:
            visitor_id = None
    properties = event.get("properties")
    return Pageview(
        uuid=uuid,
        event=name,
        timestamp=timestamp,
        visitor_id=visitor_id,
        host=_host(event),
        properties=properties if isinstance(properties, dict) else {},
    )


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
