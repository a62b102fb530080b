"""The whole system as a user runs it: separate processes, production settings, HTTP only.

`scripts/serve` (migrate, collectstatic, gunicorn with gunicorn.conf.py, DEBUG off) on a
fresh PostgreSQL database, and the PostHog stub as its own process serving the same events
the test sends as webhooks. Everything after start-up goes over HTTP, like PostHog, a
scheduler and an admin user's browser; the stored numbers are read back over HTTP too (the
cron answer's per-week changes, then a dry run that reports no difference from PostHog).

Runs in the PostgreSQL half of scripts/test; skipped on SQLite.
"""

import concurrent.futures
import dataclasses
import datetime as dt
import json
import random
import re
import subprocess
import sys
import zoneinfo
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest
import requests

from tests.support.posthog_stub import Event, dump_events, generate_events, weekly_truth
from tests.support.stack import (
    admin_session,
    free_port,
    fresh_postgres_database,
    manage,
    postgres_url_or_skip,
    process_group_alive,
    production_env,
    read_line,
    serve_env,
    start_process,
    start_serve,
    stop_group,
)
from tests.support.webhook_payloads import pageview

pytestmark = pytest.mark.slow

TIMEZONE = "Europe/Berlin"
WEEK_MODE = 3  # Monday weeks (VISITORSYNC_WEEK_START's default), as the app asks PostHog
WEBHOOK_SECRET = "whole-system-webhook-secret-" + "w" * 20
CRON_SECRET = "whole-system-cron-secret-" + "c" * 20
API_KEY = "phx_whole_system_" + "k" * 24
PROJECT_ID = "4242"
ADMIN_USER, ADMIN_PASSWORD = "admin", "whole-system-admin-password-1"
TIMEOUT = 30  # seconds, for every HTTP request


@dataclasses.dataclass
class Stack:
    base: str  # gunicorn, as the TLS proxy in front of it would reach it
    http: requests.Session  # every request carries the proxy's X-Forwarded-Proto
    events: list[Event]  # what PostHog holds: the ground truth
    day: list[Event]  # the events of one day, also delivered as webhooks
    week: dt.date  # the week of that day
    log_path: Path

    def truth(self) -> dict[dt.date, tuple[int, int]]:
        return weekly_truth(self.events, tz_name=TIMEZONE, mode=WEEK_MODE)

    def webhook(self, body: bytes, **headers: str) -> requests.Response:
        return self.http.post(
            f"{self.base}/api/webhooks/posthog",
            data=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=TIMEOUT,
        )

    def cron(self, query: str = "", **headers: str) -> requests.Response:
        return self.http.post(f"{self.base}/api/cron/sync-visitors{query}", headers=headers, timeout=TIMEOUT)

    def status(self) -> dict:
        response = self.http.get(f"{self.base}/api/sync", timeout=TIMEOUT)
        assert response.status_code == HTTPStatus.OK, response.text
        return response.json()


def day_of_events(day: dt.date, *, seed: int) -> list[Event]:
    """A day of traffic in the project's time zone: 25 visitors, some non-pageview events,
    and events a minute after midnight and a minute before the next (local time), where
    a UTC-based week or day would go wrong."""
    rng = random.Random(seed)
    local = zoneinfo.ZoneInfo(TIMEZONE)
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=local)
    moments = [midnight + dt.timedelta(minutes=1), midnight + dt.timedelta(hours=23, minutes=59)]
    moments += [midnight + dt.timedelta(seconds=rng.randint(0, 86_399)) for _ in range(88)]
    return [
        Event(
            f"0195d000-0000-7000-8000-{n:012d}",
            "$autocapture" if n % 9 == 4 else "$pageview",
            f"person-{rng.randint(1, 25)}",
            moment.astimezone(dt.UTC),
        )
        for n, moment in enumerate(moments)
    ]


def delivery(event: Event) -> bytes:
    """PostHog's default destination body for this event."""
    stamp = event.timestamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body = pageview(uuid=event.uuid, visitor=event.person_id, timestamp=stamp, event=event.event)
    return json.dumps(body).encode()


def week_of(moment: dt.datetime) -> dt.date:
    day = moment.astimezone(zoneinfo.ZoneInfo(TIMEZONE)).date()
    return day - dt.timedelta(days=day.weekday())


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    """gunicorn (via scripts/serve) and the PostHog stub, each in its own process group."""
    database = postgres_url_or_skip()
    tmp = tmp_path_factory.mktemp("whole_system")

    # PostHog's events: ten weeks of history before the week of "yesterday", then
    # yesterday's traffic, which the test also delivers as webhooks. So that week's
    # numbers come from the webhooks alone until the sync confirms them.
    yesterday = dt.datetime.now(zoneinfo.ZoneInfo(TIMEZONE)).date() - dt.timedelta(days=1)
    week = yesterday - dt.timedelta(days=yesterday.weekday())
    week_begins = dt.datetime.combine(week, dt.time(), tzinfo=zoneinfo.ZoneInfo(TIMEZONE))
    history = generate_events(weeks=10, seed=11, end=week_begins.astimezone(dt.UTC), gap_weeks=(6,))
    day = day_of_events(yesterday, seed=12)
    assert {week_of(e.timestamp) for e in day} == {week}
    events_file = tmp / "events.json"
    events_file.write_text(dump_events(history + day))

    processes: list[subprocess.Popen] = []
    with fresh_postgres_database(database, prefix="whole_system") as database_url:
        try:
            stub_log = tmp / "stub.log"
            stub = start_process(
                [
                    sys.executable,
                    "-m",
                    "tests.support.posthog_stub",
                    "--port=0",
                    f"--events-file={events_file}",
                    f"--timezone={TIMEZONE}",
                    f"--project-id={PROJECT_ID}",
                    f"--api-key={API_KEY}",
                ],
                env=production_env(),
                log_path=stub_log,
                stdout_pipe=True,
            )
            processes.append(stub)
            banner = read_line(stub, timeout=30)
            stub_url = re.search(r"http://127\.0\.0\.1:\d+", banner)
            assert stub_url, f"the stub did not say where it listens: {banner!r} {stub_log.read_text()}"

            port = free_port()
            env = serve_env(
                database_url=database_url,
                port=port,
                static_root=tmp / "static",
                workers=2,
                threads=4,
                POSTHOG_HOST=stub_url.group(0),
                POSTHOG_PROJECT_ID=PROJECT_ID,
                POSTHOG_API_KEY=API_KEY,
                POSTHOG_WEBHOOK_SECRET=WEBHOOK_SECRET,
                CRON_SECRET=CRON_SECRET,
                VISITORSYNC_TIMEZONE=TIMEZONE,
                VISITORSYNC_LOG_LEVEL="DEBUG",
                # The test talks plain http to gunicorn where a browser talks https to the
                # proxy, and `requests` (like a browser) never sends a Secure cookie over
                # plain http. Everything else stays as in production: the https redirect,
                # HSTS, and the proxy header, which every request below carries.
                SESSION_COOKIE_SECURE="false",
                CSRF_COOKIE_SECURE="false",
            )
            log_path = tmp / "serve.log"
            server = start_serve(env, log_path=log_path, port=port)
            processes.append(server)
            base = f"http://127.0.0.1:{port}"

            result = manage(
                "createsuperuser",
                "--noinput",
                f"--username={ADMIN_USER}",
                "--email=admin@example.com",
                env={**env, "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD},
                timeout=60,
            )
            assert result.returncode == 0, result.stderr

            with requests.Session() as http:
                http.headers["X-Forwarded-Proto"] = "https"  # what the TLS proxy adds
                yield Stack(base, http, history + day, day, week, log_path)
        finally:
            for process in reversed(processes):
                stop_group(process)
        left = [p.args for p in processes if process_group_alive(p.pid)]
        assert not left, f"processes still running after the test: {left}"


@pytest.fixture(scope="module")
def admin(stack) -> requests.Session:
    """A browser-like session logged into the admin: login page, CSRF token, credentials."""
    session = admin_session(stack.base, username=ADMIN_USER, password=ADMIN_PASSWORD)
    yield session
    session.close()


def assert_static_files_served(session: requests.Session, base: str, page: str) -> int:
    """Fetch every /static/ file a page references; return how many there were."""
    paths = sorted(set(re.findall(r'(?:href|src)="(/static/[^"]+)"', page)))
    for path in paths:
        response = session.get(base + path, timeout=TIMEOUT)
        assert response.status_code == HTTPStatus.OK, path
        assert response.content, path
    return len(paths)


def numbers_of(run: dict) -> dict[dt.date, tuple[int, int]]:
    """The stored numbers a run reports: its changes' "after" values."""
    return {dt.date.fromisoformat(c["week"]): (c["visitors"][1], c["pageviews"][1]) for c in run["changes"]}


def assert_stored_equals_posthog(stack: Stack) -> dict:
    """A dry run compares every stored week with PostHog's answer: no change means equal."""
    response = stack.cron("?dry_run=1", Authorization=f"Bearer {CRON_SECRET}")
    assert response.status_code == HTTPStatus.OK, response.text
    run = response.json()["run"]
    assert run["changes"] == [], run["changes"]
    assert run["weeks_unchanged"] == run["weeks_checked"] > 0
    return run


def stable(status: dict) -> dict:
    """/api/sync without the fields that move with the clock."""
    status = json.loads(json.dumps(status))
    if status["last_success"]:
        status["last_success"].pop("age_seconds")
    return status


# --- The tests ----------------------------------------------------------------------------------
def test_whole_system_webhooks_then_cron_store_posthogs_numbers(stack):
    # A day of deliveries from PostHog's HTTP Webhook destination, some delivered twice (its
    # retries), several at once (it sends in parallel).
    rng = random.Random(13)
    deliveries = stack.day + rng.sample(stack.day, 30)
    rng.shuffle(deliveries)
    auth = {"Authorization": f"Bearer {WEBHOOK_SECRET}"}
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda e: (e, stack.webhook(delivery(e), **auth)), deliveries))
    outcomes: dict[str, int] = {}
    for event, response in answers:
        assert response.status_code == HTTPStatus.OK, response.text
        body = response.json()
        outcomes[body["status"]] = outcomes.get(body["status"], 0) + 1
        if body["status"] != "ignored":
            assert body["week"] == stack.week.isoformat(), event
    pageviews = [e for e in stack.day if e.event == "$pageview"]
    delivered_pageviews = [e for e in deliveries if e.event == "$pageview"]
    assert outcomes == {
        "counted": len(pageviews),  # each event once, however often and concurrently delivered
        "duplicate": len(delivered_pageviews) - len(pageviews),
        "ignored": len(deliveries) - len(delivered_pageviews),  # not VISITORSYNC_EVENT
    }

    # The status document: configured, one week stored (from the webhooks), never synced.
    status = stack.status()
    assert status["posthog_configured"] and status["missing_settings"] == []
    assert status["webhook_secret_configured"] and status["cron_secret_configured"]
    assert status["weeks_stored"] == 1
    assert status["newest_week"] == status["oldest_week"] == stack.week.isoformat()
    assert status["last_run"] is None and status["stale"] and not status["healthy"]

    # The scheduler calls the cron endpoint: a full sync from the PostHog stub.
    response = stack.cron(Authorization=f"Bearer {CRON_SECRET}")
    assert response.status_code == HTTPStatus.OK, response.text
    run = response.json()["run"]
    assert run["status"] == "succeeded" and run["trigger"] == "cron" and not run["dry_run"]
    first, last = dt.date.fromisoformat(run["first_week"]), dt.date.fromisoformat(run["last_week"])
    truth = stack.truth()
    expected = {}
    week = first
    while week <= last:
        expected[week] = truth.get(week, (0, 0))
        week += dt.timedelta(weeks=1)
    assert run["weeks_checked"] == len(expected) >= 10
    # Every week is created, except the webhook's: PostHog only confirms it (the same
    # numbers), so it is unchanged and not listed among the changes.
    assert numbers_of(run) == {week: numbers for week, numbers in expected.items() if week != stack.week}
    assert any(v == (0, 0) for v in expected.values()), "the history should hold an empty week"
    assert all(c["created"] for c in run["changes"]) and run["weeks_updated"] == 0
    assert run["weeks_unchanged"] == 1
    # What the webhooks had counted, before the sync: the same numbers as PostHog's.
    assert truth[stack.week] == (len({e.person_id for e in pageviews}), len(pageviews))

    status = stack.status()
    assert status["healthy"] and not status["stale"]
    assert status["weeks_stored"] == len(expected)
    assert status["last_run"]["id"] == run["id"] and status["last_success"]["id"] == run["id"]

    assert_stored_equals_posthog(stack)


def test_whole_system_admin_pages_and_static_files(stack, admin):
    index = admin.get(f"{stack.base}/admin/", timeout=TIMEOUT)
    assert index.status_code == HTTPStatus.OK
    assert "Weekly metrics and syncs with PostHog" in index.text and "Weekly metrics" in index.text
    assert index.headers["Strict-Transport-Security"].startswith("max-age=")
    changelist = admin.get(f"{stack.base}/admin/metrics/weeklymetric/", timeout=TIMEOUT)
    assert changelist.status_code == HTTPStatus.OK
    assert "<title>Weekly metrics | " in changelist.text
    assert "Select weekly metric to change" not in changelist.text
    static = assert_static_files_served(admin, stack.base, index.text + changelist.text)
    assert static >= 3, "the admin pages should reference stylesheets and scripts"
    # Content-hashed by collectstatic's manifest, served by WhiteNoise.
    assert re.search(r"/static/admin/css/base\.[0-9a-f]{12}\.css", changelist.text)


def test_whole_system_admin_sync_page(stack, admin):
    # The admin sync page of issue 5; /admin/sync/ is the short address that redirects to it.
    # Not following redirects: without that page, the change view takes "sync" for an object
    # id and redirects to the index ("doesn't exist"), which would end in a 200.
    page = admin.get(f"{stack.base}/admin/metrics/weeklymetric/sync/", allow_redirects=False, timeout=TIMEOUT)
    assert page.status_code == HTTPStatus.OK, page.headers.get("Location")
    assert 'name="csrfmiddlewaretoken"' in page.text, "a superuser sees the Start sync form"
    assert_static_files_served(admin, stack.base, page.text)
    short = admin.get(f"{stack.base}/admin/sync/", allow_redirects=False, timeout=TIMEOUT)
    assert short.status_code in (HTTPStatus.FOUND, HTTPStatus.MOVED_PERMANENTLY)
    assert short.headers["Location"].endswith("/admin/metrics/weeklymetric/sync/")


def test_whole_system_bad_requests_change_nothing(stack):
    stack.cron(Authorization=f"Bearer {CRON_SECRET}")  # so there is a stored state to keep
    before = stable(stack.status())
    new_visitor = pageview(
        uuid="0195d000-ffff-7000-8000-000000000001",
        visitor="person-who-must-not-count",
        timestamp=stack.day[0].timestamp.isoformat().replace("+00:00", "Z"),
    )
    body = json.dumps(new_visitor).encode()
    oversized = json.dumps(
        {**new_visitor, "event": {**new_visitor["event"], "properties": {"padding": "x" * 70_000}}}
    ).encode()
    refused = [
        ("webhook without the secret", stack.webhook(body), HTTPStatus.UNAUTHORIZED),
        (
            "webhook with a wrong secret",
            stack.webhook(body, Authorization="Bearer " + "x" * len(WEBHOOK_SECRET)),
            HTTPStatus.UNAUTHORIZED,
        ),
        (
            "webhook with bad JSON",
            stack.webhook(body[:-7], Authorization=f"Bearer {WEBHOOK_SECRET}"),
            HTTPStatus.BAD_REQUEST,
        ),
        (
            "webhook with an oversized body",
            stack.webhook(oversized, Authorization=f"Bearer {WEBHOOK_SECRET}"),
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        ),
        (
            # The same keep-alive connection still works after the 413 (PostHog reuses
            # connections; a dropped one would fail its next delivery).
            "webhook without the secret, on the connection that just got a 413",
            stack.webhook(body),
            HTTPStatus.UNAUTHORIZED,
        ),
        ("cron without the secret", stack.cron(), HTTPStatus.UNAUTHORIZED),
        ("cron with a wrong secret", stack.cron(Authorization="Bearer nope"), HTTPStatus.UNAUTHORIZED),
        (
            "cron with a JSON body",
            stack.http.post(
                f"{stack.base}/api/cron/sync-visitors",
                json={"force": True},
                headers={"Authorization": f"Bearer {CRON_SECRET}"},
                timeout=TIMEOUT,
            ),
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "cron with a malformed date",
            stack.cron("?since=yesterday", Authorization=f"Bearer {CRON_SECRET}"),
            HTTPStatus.BAD_REQUEST,
        ),
    ]
    for what, response, status in refused:
        assert response.status_code == status, f"{what}: {response.status_code} {response.text[:300]}"
        assert response.headers["Content-Type"] == "application/json", what
        assert response.json()["error"], what
    assert stable(stack.status()) == before
    assert_stored_equals_posthog(stack)
    log = stack.log_path.read_text()
    assert "Traceback" not in log
    assert WEBHOOK_SECRET not in log and CRON_SECRET not in log and API_KEY not in log
    # VISITORSYNC_LOG_LEVEL=DEBUG: one line per webhook outcome...
    assert len(
        re.findall(r"DEBUG metrics\.http\.posthog_webhook: webhook key=\S+ status=counted ", log)
    ) == len([e for e in stack.day if e.event == "$pageview"])
    assert "DEBUG metrics.http.posthog_webhook: webhook refused (413)" in log
    visitors = {e.person_id for e in stack.day}
    assert not [line for line in log.splitlines() if any(v in line for v in visitors)]  # ...without visitors
