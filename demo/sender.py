"""Sends PostHog-shaped webhook deliveries of current-week events to a running visitorsync,
a few a second, as the PostHog HTTP Webhook destination would (Bearer shared secret): pageviews
of returning and new visitors, and, as in the sample (demo/sample.py), some new visitors'
`signed_up` (with a `plan`) and some paying signups' `purchase` (`amount` in EUR, `plan`), so
the demo's signups, revenue and signup rate (demo/metrics.json) move live as visitors do.
About one in six deliveries is sent twice (PostHog redelivers after a timeout), which
visitorsync counts once. With `--capture-url` (the stand-in's /demo/capture) each event,
properties included, is stored there first, as PostHog stores an event before delivering it,
so a later sync agrees with the webhook.

`python -m demo.sender --url http://127.0.0.1:8000 --secret S [--capture-url U]`
Stops on SIGTERM or Ctrl-C, or after `--seconds` (default: one day), and prints a summary.
"""

import argparse
import datetime as dt
import json
import random
import signal
import threading
import uuid

import requests

from demo.sample import HOST, PLANS, PRICES

PATH = "/api/webhooks/posthog"


PAGES = ("/", "/pricing", "/docs", "/blog/weekly-metrics", "/signup")
RETURNING = 40  # the live visitors who come back; new ones join them


def delivery(
    *,
    person: str,
    distinct_id: str,
    now: dt.datetime,
    event: str = "$pageview",
    properties: dict | None = None,
) -> dict:
    """A body shaped like the destination's default one: a `$pageview` of a random page, or
    `event` with `properties` (and `$host`, as posthog-js sends it)."""
    if event == "$pageview":
        pathname = random.choice(PAGES)
        properties = {"$current_url": f"https://{HOST}{pathname}", "$pathname": pathname}
    return {
        "event": {
            "uuid": str(uuid.uuid4()),
            "event": event,
            "distinct_id": distinct_id,
            "properties": {**(properties or {}), "$host": HOST},
            "timestamp": now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "elements_chain": "",
        },
        "person": {"id": person, "name": person, "properties": {}},
    }


class Traffic:
    """The live stream, one event per `next()`: mostly pageviews of returning visitors; one
    visitor in five is new, one new visitor in twelve signs up as in the sample, and a
    paying signup buys (in the sample's prices) six times in ten. A signup and its purchase
    follow their visitor's pageview a few events later: at 3 a second, a signup about every 20
    seconds and a purchase about every minute."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.visitors = [f"live-{n}" for n in range(1, RETURNING + 1)]
        self.pending: list[tuple[str, str, dict]] = []  # (person, event, properties), in order

    def next(self, now: dt.datetime) -> dict:
        rng = self.rng
        if self.pending and rng.random() < 0.5:
            person, event, properties = self.pending.pop(0)
            return delivery(
                person=person, distinct_id=f"{person}-device-1", now=now, event=event, properties=properties
            )
        if rng.random() < 1 / 5:
            person = f"live-{len(self.visitors) + 1}"
            self.visitors.append(person)
            if rng.random() < 1 / 12:
                plan = rng.choice(PLANS)
                self.pending.append((person, "signed_up", {"plan": plan}))
                if plan != "free" and rng.random() < 0.6:
                    amount = rng.choice(PRICES[plan])
                    self.pending.append(
                        (person, "purchase", {"plan": plan, "amount": amount, "currency": "EUR"})
                    )
        else:
            person = rng.choice(self.visitors[:RETURNING] if rng.random() < 0.7 else self.visitors)
        return delivery(person=person, distinct_id=f"{person}-device-{rng.randint(1, 2)}", now=now)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stored_event(payload: dict) -> dict:
    """The delivery's event as the stand-in's /demo/capture stores it (its --events-file shape)."""
    event = payload["event"]
    return {
        "uuid": event["uuid"],
        "event": event["event"],
        "person_id": payload["person"]["id"],
        "timestamp": event["timestamp"].replace("Z", "+00:00"),
        "host": event["properties"]["$host"],
        # What the demo's metrics read (plan, amount); PostHog keeps every property.
        "properties": {k: v for k, v in event["properties"].items() if not k.startswith("$")} or None,
    }


def capture(session: requests.Session, url: str, payload: dict) -> bool:
    """Store the event in the stand-in (True), or say why not (False: not delivered either)."""
    stored = stored_event(payload)
    try:
        session.post(url, json=stored, timeout=10).raise_for_status()
    except requests.RequestException as err:
        print(f"sender: the stand-in did not store an event ({err.__class__.__name__})", flush=True)
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="visitorsync's address, e.g. http://127.0.0.1:8000")
    parser.add_argument("--secret", required=True, help="its POSTHOG_WEBHOOK_SECRET")
    parser.add_argument("--capture-url", help="the PostHog stand-in's /demo/capture, to store each event")
    parser.add_argument("--per-second", type=float, default=3.0)
    parser.add_argument("--seconds", type=float, default=86400.0)
    # A seed whose first signup and purchase come within seconds, so the demo shows them moving at once.
    parser.add_argument("--seed", type=int, default=62)
    args = parser.parse_args()
    # The stream of events its own, so the seed alone decides it; redeliveries a stream apart.
    traffic, redeliveries = Traffic(random.Random(args.seed)), random.Random(args.seed + 1)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    session = requests.Session()
    headers = {"Authorization": f"Bearer {args.secret}", "Content-Type": "application/json"}
    sent = counted = refused = 0
    deadline = threading.Timer(args.seconds, stopping.set)
    deadline.daemon = True
    deadline.start()
    while not stopping.wait(1 / args.per_second):
        payload = traffic.next(now())
        body = json.dumps(payload).encode()
        if args.capture_url and not capture(session, args.capture_url, payload):
            continue
        for _ in range(2 if redeliveries.random() < 1 / 6 else 1):
            try:
                answer = session.post(args.url.rstrip("/") + PATH, data=body, headers=headers, timeout=10)
            except requests.RequestException as err:
                print(f"sender: {err.__class__.__name__}; retrying with the next delivery", flush=True)
                continue
            sent += 1
            if answer.ok:
                counted += 1
            else:
                refused += 1
                print(f"sender: visitorsync answered {answer.status_code}: {answer.text[:200]}", flush=True)
    print(f"sender: {sent} deliveries sent, {counted} accepted, {refused} refused", flush=True)


if __name__ == "__main__":
    main()
