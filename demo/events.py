"""Events for the PostHog stand-in: what one is, how to make, save and load a fixture of them,
and the weekly ground truth PostHog would count from them."""

import dataclasses
import datetime as dt
import json
import random
import zoneinfo
from collections import defaultdict


@dataclasses.dataclass(frozen=True)
class Event:
    uuid: str
    event: str
    person_id: str
    timestamp: dt.datetime  # aware
    host: str | None = None  # properties.$host (mobile events have none)
    email: str | None = None  # the person's email property
    # The event's other properties as json.loads gives them (e.g. {"amount": 12.5, "plan": "pro"}).
    properties: dict | None = dataclasses.field(default=None, compare=False, hash=False)


def week_start(moment: dt.datetime, *, tz_name: str, mode: int) -> dt.date:
    """ClickHouse toStartOfWeek(toTimeZone(ts, tz), mode) for modes 0 (Sunday) and 3 (Monday)."""
    day = moment.astimezone(zoneinfo.ZoneInfo(tz_name)).date()
    first_weekday = {3: 0, 0: 6}[mode]
    return day - dt.timedelta(days=(day.weekday() - first_weekday) % 7)


def weekly_truth(
    events: list[Event],
    *,
    tz_name: str,
    mode: int,
    event: str | tuple[str, ...] = "$pageview",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    where=None,
) -> dict[dt.date, tuple[int, int]]:
    """{week_start: (unique persons, event count)} over the events named in [start, end) for
    which `where(event)` (if given) is true."""
    names = (event,) if isinstance(event, str) else tuple(event)
    persons: dict[dt.date, set[str]] = defaultdict(set)
    views: dict[dt.date, int] = defaultdict(int)
    for item in events:
        if item.event not in names or (where is not None and not where(item)):
            continue
        if (start and item.timestamp < start) or (end and item.timestamp >= end):
            continue
        week = week_start(item.timestamp, tz_name=tz_name, mode=mode)
        persons[week].add(item.person_id)
        views[week] += 1
    return {week: (len(persons[week]), views[week]) for week in sorted(views)}


def generate_events(
    *,
    weeks: int,
    seed: int = 1,
    end: dt.datetime | None = None,
    per_week: int = 40,
    persons: int = 60,
    gap_weeks: tuple[int, ...] = (),
) -> list[Event]:
    """Deterministic fixture events spread over the last `weeks` weeks before `end`.

    Weeks whose index (0 = oldest) is in `gap_weeks` get no events, and some events are of
    another kind, so both "absent week" and the event filter are exercised.
    """
    rng = random.Random(seed)
    end = end or dt.datetime.now(dt.UTC)
    start = end - dt.timedelta(weeks=weeks)
    events = []
    for index in range(weeks):
        if index in gap_weeks:
            continue
        week_begin = start + dt.timedelta(weeks=index)
        for n in range(rng.randint(per_week // 2, per_week)):
            moment = week_begin + dt.timedelta(seconds=rng.randint(0, 7 * 86400 - 1))
            if moment >= end:
                continue
            name = "$pageview" if n % 7 else "$autocapture"
            events.append(Event(f"{seed}-{index}-{n}", name, f"person-{rng.randint(1, persons)}", moment))
    return events


def dump_events(events: list[Event]) -> str:
    """Events as JSON for `--events-file`: a list of {uuid, event, person_id, timestamp, host,
    email, properties}."""
    return json.dumps(
        [
            {
                "uuid": e.uuid,
                "event": e.event,
                "person_id": e.person_id,
                "timestamp": e.timestamp.isoformat(),
                "host": e.host,
                "email": e.email,
                "properties": e.properties,
            }
            for e in events
        ]
    )


def load_events(text: str) -> list[Event]:
    """The inverse of `dump_events`; timestamps must carry an offset."""
    events = []
    for item in json.loads(text):
        moment = dt.datetime.fromisoformat(item["timestamp"])
        if moment.tzinfo is None:
            raise ValueError(f"event {item['uuid']}: timestamp {item['timestamp']!r} has no offset")
        events.append(
            Event(
                item["uuid"],
                item["event"],
                item["person_id"],
                moment,
                item.get("host"),
                item.get("email"),
                item.get("properties"),
            )
        )
    return events
