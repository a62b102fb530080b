"""The demo's live webhook sender (demo/sender.py): besides pageviews it sends signups and
purchases as the sample does, the webhook counts them for the demo's metrics
(demo/metrics.json), and the events the sender stores in the PostHog stand-in give a sync the
same numbers, so the demo's next sync confirms what the webhook counted. Also the demo outbox
shows a report's euro signs as sent."""

import datetime as dt
import json
import random
from collections import Counter
from http import HTTPStatus
from pathlib import Path

import pytest
from django.core import mail
from django.test import Client

from demo.outbox import Outbox
from demo.sample import PLANS, PRICES
from demo.sender import Traffic, stored_event
from metrics import catalog, tracker
from metrics.core import weeks
from metrics.models import MetricValue, SyncRun, WeeklyMetric
from tests.support.posthog_stub import PostHogStub, load_events
from tests.support.webhook_payloads import SECRET, post

ROOT = Path(__file__).resolve().parent.parent
TICKS = 600  # the sender's first 200 seconds at 3 a second


def stream(*, moment: dt.datetime, seed: int = 62) -> list[dict]:
    traffic = Traffic(random.Random(seed))
    return [traffic.next(moment) for _ in range(TICKS)]


def test_the_stream_sends_signups_and_purchases_as_the_sample_makes_them():
    payloads = stream(moment=dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC))
    names = [p["event"]["event"] for p in payloads]
    counts = Counter(names)
    assert counts["signed_up"] >= 5 and counts["purchase"] >= 2 and counts["$pageview"] > TICKS * 0.9
    # The default seed's first signup and purchase come within the first ten seconds.
    assert names.index("signed_up") < 30 and names.index("purchase") < 30
    seen: dict[str, list[str]] = {}
    for payload in payloads:
        event, person = payload["event"], payload["person"]["id"]
        properties = event["properties"]
        assert properties["$host"] == "demo.example.com"
        if event["event"] == "signed_up":
            assert properties["plan"] in PLANS
            assert seen[person] == ["$pageview"] * len(seen[person])  # a visitor who signs up
        if event["event"] == "purchase":
            assert properties["amount"] in PRICES[properties["plan"]]
            assert properties["currency"] == "EUR"
            assert "signed_up" in seen[person]  # only after signing up
        seen.setdefault(person, []).append(event["event"])
    # The stand-in keeps the properties the metrics read, and the --events-file shape.
    purchase = next(p for p in payloads if p["event"]["event"] == "purchase")
    (stored,) = load_events(json.dumps([stored_event(purchase)]))
    assert stored.properties == {k: v for k, v in purchase["event"]["properties"].items() if k != "$host"}
    assert stored.host == "demo.example.com" and stored.person_id == purchase["person"]["id"]


@pytest.mark.django_db
def test_the_webhook_counts_the_streams_metrics_and_a_sync_confirms_them(settings):
    settings.POSTHOG_WEBHOOK_SECRET, settings.POSTHOG_WEBHOOK_SIGNING_SECRET = SECRET, ""
    settings.VISITORSYNC_EVENT, settings.VISITORSYNC_HOSTS = "$pageview", ""
    catalog.import_document(json.loads((ROOT / "demo" / "metrics.json").read_text()), dry_run=False)
    week = weeks.current_week_start()
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    if moment.date() != week:  # keep every event in the week being counted
        moment = max(moment - dt.timedelta(hours=1), dt.datetime.combine(week, dt.time(0, 1), dt.UTC))
    payloads = stream(moment=moment)
    client = Client()
    for n, payload in enumerate(payloads):
        for _ in range(2 if n % 6 == 0 else 1):  # redelivered, as the sender does
            assert post(client, payload).status_code == HTTPStatus.OK
    signups = sum(p["event"]["event"] == "signed_up" for p in payloads)
    revenue = sum(p["event"]["properties"]["amount"] for p in payloads if p["event"]["event"] == "purchase")
    values = {
        v.metric.key: v.value for v in MetricValue.objects.filter(week_start=week).select_related("metric")
    }
    assert values == {"signups": signups, "revenue": pytest.approx(revenue)}
    visitors = len({p["person"]["id"] for p in payloads if p["event"]["event"] == "$pageview"})
    row = WeeklyMetric.objects.get(week_start=week)
    assert (row.visitors, row.pageviews) == (visitors, TICKS - signups - counts_of(payloads, "purchase"))

    # The stand-in holds what the sender stored: a sync of the week changes nothing.
    events = load_events(json.dumps([stored_event(p) for p in payloads]))
    stub = PostHogStub(events=events, timezone=settings.VISITORSYNC_TIMEZONE).start()
    try:
        settings.POSTHOG_HOST, settings.POSTHOG_PROJECT_ID = stub.url, stub.project_id
        settings.POSTHOG_API_KEY = stub.api_key
        run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND, since=week))
    finally:
        stub.stop()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert (run.weeks_created, run.weeks_updated) == (0, 0)
    after = {v.metric.key: (v.value, v.posthog_value) for v in MetricValue.objects.filter(week_start=week)}
    assert after == {
        "signups": (signups, signups),
        "revenue": (pytest.approx(revenue), pytest.approx(revenue)),
    }


def counts_of(payloads: list[dict], name: str) -> int:
    return sum(p["event"]["event"] == name for p in payloads)


def test_the_outbox_shows_a_reports_euro_sign(tmp_path, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    outbox = Outbox(tmp_path)
    mail.EmailMultiAlternatives(
        "Revenue €235.00", "- Revenue: €235.00; €49.00", to=["team@demo.example"]
    ).send()
    ((_, to, text),) = outbox.messages()
    assert to == "team@demo.example"
    assert text == "Revenue €235.00\n\n- Revenue: €235.00; €49.00\n"
