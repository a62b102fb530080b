"""Sends PostHog-shaped webhook deliveries of current-week pageviews to a running visitorsync,
a few a second, as the PostHog HTTP Webhook destination would (Bearer shared secret); about
one in six is sent twice (PostHog redelivers after a timeout), which visitorsync counts once.
With `--capture-url` (the stand-in's /demo/capture) each event is stored there first, as
PostHog stores an event before delivering it, so a later sync agrees with the webhook.

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

from demo.sample import HOST

PATH = "/api/webhooks/posthog"


def delivery(*, person: str, distinct_id: str, now: dt.datetime) -> dict:
    """A body shaped like the destination's default one."""
    pathname = random.choice(["/", "/pricing", "/docs", "/blog/weekly-metrics", "/signup"])
    return {
        "event": {
            "uuid": str(uuid.uuid4()),
            "event": "$pageview",
            "distinct_id": distinct_id,
            "properties": {"$current_url": f"https://{HOST}{pathname}", "$pathname": pathname, "$host": HOST},
            "timestamp": now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "elements_chain": "",
        },
        "person": {"id": person, "name": person, "properties": {}},
    }


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def capture(session: requests.Session, url: str, payload: dict) -> bool:
    """Store the event in the stand-in (True), or say why not (False: not delivered either)."""
    event = payload["event"]
    stored = {
        "uuid": event["uuid"],
        "event": event["event"],
        "person_id": payload["person"]["id"],
        "timestamp": event["timestamp"].replace("Z", "+00:00"),
        "host": HOST,
    }
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
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = random.Random(args.seed)
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
        person = f"live-{rng.randint(1, 40)}"
        payload = delivery(person=person, distinct_id=f"{person}-device-{rng.randint(1, 2)}", now=now())
        body = json.dumps(payload).encode()
        if args.capture_url and not capture(session, args.capture_url, payload):
            continue
        for _ in range(2 if rng.random() < 1 / 6 else 1):
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
