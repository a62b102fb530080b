"""Two years of realistic sample events for the demo, and the weekly ground truth.

The shape: steady growth, a dip of a few weeks (a summer holiday), fewer visits at weekends,
a pool of returning visitors next to new ones, and identified persons who reach the site from
several devices (several distinct ids, one person id: PostHog counts them once).

The first week is a whole one (it starts on a Monday, 00:00 UTC, the demo's week), so no
comparison is made with a partial week, and two years give every week of the second year its
"same week last year". Some first-time visitors sign up (`signed_up`, with a `plan`), and some
of those buy (`purchase`, `amount` in EUR as a JSON number, `plan`): the demo's metrics
(demo/metrics.json) count them. `python -m demo.sample --weeks 106 --out events.json` writes them for
the stand-in's `--events-file`; `first_week(weeks=...)` is the date a demo sync starts from.
"""

import argparse
import datetime as dt
import random

from demo.posthog_standin import Event, dump_events

HOST = "demo.example.com"
# Relative traffic per weekday, Monday first.
DAY_WEIGHTS = (1.0, 1.05, 1.05, 1.0, 0.9, 0.55, 0.5)


def visitors_in_week(index: int, weeks: int, rng: random.Random) -> int:
    """Growth from ~40 to ~130 visitors a week, a dip two thirds of the way, some noise."""
    growth = 40 + 90 * index / max(weeks - 1, 1)
    dip_start = int(weeks * 0.6)
    dip = 0.55 if dip_start <= index < dip_start + 3 else 1.0
    return max(3, int(growth * dip * rng.uniform(0.9, 1.1)))


WEEKS = 106  # two full years, and the weeks since


def first_week(*, weeks: int, end: dt.datetime | None = None) -> dt.datetime:
    """Monday 00:00 UTC of the first sample week: `weeks` whole weeks before the current one."""
    end = end or dt.datetime.now(dt.UTC)
    monday = (end - dt.timedelta(days=end.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday - dt.timedelta(weeks=weeks)


def generate(*, weeks: int = WEEKS, seed: int = 7, end: dt.datetime | None = None) -> list[Event]:
    """Deterministic sample `$pageview` events (and a few other events) over `weeks` whole
    weeks before the current one and the current week up to `end` (default: now), all from
    HOST."""
    rng = random.Random(seed)
    end = end or dt.datetime.now(dt.UTC)
    start = first_week(weeks=weeks, end=end)
    weeks += 1  # and the current week, so far
    regulars: list[str] = []  # persons who came before and may come back
    events: list[Event] = []
    for index in range(weeks):
        week_begin = start + dt.timedelta(weeks=index)
        count = visitors_in_week(index, weeks, rng)
        returning = min(len(regulars), int(count * 0.35))
        persons = rng.sample(regulars, returning) if returning else []
        new = [f"person-{index}-{n}" for n in range(count - returning)]
        regulars.extend(new)
        for person in persons + new:
            # Returning visitors read more pages; identified ones sometimes on two devices.
            views = rng.randint(2, 7) if person in persons else rng.randint(1, 4)
            for n in range(views):
                day = rng.choices(range(7), weights=DAY_WEIGHTS)[0]
                offset = dt.timedelta(days=day, seconds=rng.randint(0, 86399))
                moment = week_begin + offset
                if moment >= end:
                    continue
                name = "$pageview" if n or rng.random() > 0.1 else "$autocapture"
                email = f"{person}@example.org" if len(person) % 3 == 0 else None
                events.append(Event(f"demo-{index}-{person}-{n}", name, person, moment, HOST, email))
    events += business_events(events, seed=seed, end=end)
    events.sort(key=lambda e: e.timestamp)
    return events


PLANS = ("free", "free", "pro", "team")
PRICES = {"pro": (19, 49), "team": (99, 149.5)}


def business_events(pageviews: list[Event], *, seed: int, end: dt.datetime) -> list[Event]:
    """Signups of about one first-time visitor in twelve, an hour after their first pageview,
    and purchases (EUR) of some paying signups within the next days. A separate random stream,
    so the pageviews are those of a sample without them."""
    rng = random.Random(seed * 1000 + 1)
    first_seen: dict[str, Event] = {}
    for event in sorted(pageviews, key=lambda e: e.timestamp):
        first_seen.setdefault(event.person_id, event)
    made = []
    for person, seen in first_seen.items():
        if rng.random() > 1 / 12:
            continue
        plan = rng.choice(PLANS)
        signed = seen.timestamp + dt.timedelta(hours=1)
        if signed < end:
            made.append(Event(f"{seen.uuid}-signup", "signed_up", person, signed, HOST, None, {"plan": plan}))
        if plan != "free" and rng.random() < 0.6:
            bought = signed + dt.timedelta(days=rng.randint(0, 4), seconds=rng.randint(0, 86399))
            amount = rng.choice(PRICES[plan])
            properties = {"plan": plan, "amount": amount, "currency": "EUR"}
            if bought < end:
                made.append(
                    Event(f"{seen.uuid}-purchase", "purchase", person, bought, HOST, None, properties)
                )
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=WEEKS, help="whole weeks before the current one")
    parser.add_argument("--first-week", action="store_true", help="print the first week's date and exit")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", required=True, help="file to write the events to (JSON)")
    args = parser.parse_args()
    if args.first_week:
        print(first_week(weeks=args.weeks).date().isoformat())
        return
    events = generate(weeks=args.weeks, seed=args.seed)
    with open(args.out, "w") as file:
        file.write(dump_events(events))
    print(f"{len(events)} sample events over {args.weeks} weeks in {args.out}", flush=True)


if __name__ == "__main__":
    main()
