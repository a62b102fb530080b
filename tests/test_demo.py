"""`scripts/run --demo`: the whole product on sample data, as a new user starts it.

The script runs as a real process (a shorter sample, its SQLite file in a temporary
directory): the PostHog stand-in, the first sync over real HTTP, runserver, and the sender of
webhook deliveries. A logged-in admin sees the stored weeks equal to the sample's ground
truth and the current week growing; SIGINT to the script leaves none of its processes."""

import copy
import datetime as dt
import os
import random
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import requests
from django.test import Client

from demo.posthog_standin import load_events, week_start, weekly_truth
from demo.sender import Traffic
from tests.support.environment import read_setting
from tests.support.stack import ROOT, admin_session, free_port

WEEKS = 45
SENDER_SEED = 62  # demo/sender.py's --seed default; scripts/demo passes none
BANNER = "Demo data: sample events from a local PostHog stand-in"


def most_pageviews_between(event: str, *, ticks: int = 3000) -> int:
    """The most pageviews the demo's sender (demo/sender.py, its default seed as scripts/demo
    runs it) sends before its first `event` or between two, in its first `ticks` events
    (over a quarter of an hour at 3 a second; the test watches well within that)."""
    traffic = Traffic(random.Random(SENDER_SEED))
    most = run = 0
    for _ in range(ticks):
        name = traffic.next(dt.datetime.now(dt.UTC))["event"]["event"]
        if name == "$pageview":
            run += 1
        elif name == event:
            most, run = max(most, run), 0
    return most


def descendants(pid: int) -> set[int]:
    """The ids of every process descended from `pid` (by parent id, whatever its session)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stored_weeks(database: Path) -> dict[dt.date, tuple[int, int]]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT week_start, visitors, pageviews FROM metrics_weeklymetric"
        ).fetchall()
    return {dt.date.fromisoformat(week): (visitors, views) for week, visitors, views in rows}


def stored_metric_values(database: Path) -> dict[tuple[dt.date, str], float]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT v.week_start, m.key, v.value FROM metrics_metricvalue v "
            "JOIN metrics_metric m ON m.id = v.metric_id"
        ).fetchall()
    return {(dt.date.fromisoformat(week), key): value for week, key, value in rows}


def sample_metric_truth(events, weeks: set[dt.date]) -> dict[tuple[dt.date, str], float]:
    """The demo's signups (count of signed_up) and revenue (sum of purchase amounts) per week."""
    truth = {(week, key): 0.0 for week in weeks for key in ("signups", "revenue")}
    for event in events:
        week = week_start(event.timestamp, tz_name="UTC", mode=3)
        if week in weeks and event.event == "signed_up":
            truth[(week, "signups")] += 1
        elif week in weeks and event.event == "purchase":
            truth[(week, "revenue")] += event.properties["amount"]
    return truth


@pytest.mark.slow
def test_demo_fills_the_admin_keeps_counting_and_stops_completely(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({"VISITORSYNC_DEMO_DIR": str(tmp_path), "VISITORSYNC_DEMO_WEEKS": str(WEEKS)})
    log_path = tmp_path / "demo.log"
    before = set(os.listdir(ROOT))
    with log_path.open("w") as log:
        script = subprocess.Popen(
            [str(ROOT / "scripts" / "run"), "--demo", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    demo_pids: set[int] = set()
    try:
        deadline = time.monotonic() + 150
        while "Ctrl-C stops the demo" not in log_path.read_text():
            assert script.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.25)
        output = log_path.read_text()
        password = re.search(r"Log in as:\s+admin\s+/\s+(\S+)", output).group(1)
        assert f"curl {base}/api/sync" in output and "Bearer demo-cron-secret" in output
        demo_pids = descendants(script.pid)
        assert len(demo_pids) >= 4  # the stand-in, the outbox, runserver, the sender

        session = admin_session(base, username="admin", behind_proxy=False, password=password)
        listing = session.get(f"{base}/admin/metrics/weeklymetric/", timeout=30)
        assert listing.status_code == 200 and BANNER in listing.text
        sync_page = session.get(f"{base}/admin/metrics/weeklymetric/sync/", timeout=30)
        assert sync_page.status_code == 200 and BANNER in sync_page.text
        assert "Sync #1" in output

        # Every past week equals the sample's ground truth (the current one also gets the
        # sender's deliveries).
        events = load_events((tmp_path / "demo-events.json").read_text())
        truth = weekly_truth(events, tz_name="UTC", mode=3)
        current = week_start(dt.datetime.now(dt.UTC), tz_name="UTC", mode=3)
        stored = stored_weeks(tmp_path / "demo.sqlite3")
        past = {week: numbers for week, numbers in stored.items() if week != current}
        assert len(past) >= 40
        assert past == {week: numbers for week, numbers in truth.items() if week != current}
        # The demo's metrics (demo/metrics.json): signups and revenue of every past week.
        values = stored_metric_values(tmp_path / "demo.sqlite3")
        wanted = sample_metric_truth(events, set(past))
        assert {slot: value for slot, value in values.items() if slot[0] != current} == wanted
        assert sum(value for (_, key), value in wanted.items() if key == "revenue") > 0

        # No test is sent before anyone asks (a sync's real alert may be there already: the
        # sample's last week can be below the signups or revenue target).
        outbox = re.search(r"Mail and alerts the demo sends.*: (http://127\.0\.0\.1:\d+/)", output).group(1)
        first_page = requests.get(outbox, timeout=10).text
        assert "visitorsync demo: outbox" in first_page and "This is a test alert" not in first_page
        assert "To team@demo.example" not in first_page  # no report yet (alerts go to oncall)

        # The current week's pageviews, signups and revenue grow while the sender posts. The
        # wait is bounded by the sender's progress, not by a clock: its stream (fixed by the
        # seed) sends at most `signup_gap` pageviews between two signups and `purchase_gap`
        # between two purchases, so more pageviews than that without both growing is a failure,
        # however slowly the machine runs. The deadline only stops a sender that stalls.
        def live() -> tuple[int, float, float]:
            values = stored_metric_values(tmp_path / "demo.sqlite3")
            pageviews = stored_weeks(tmp_path / "demo.sqlite3")[current][1]
            return pageviews, values.get((current, "signups"), 0.0), values.get((current, "revenue"), 0.0)

        signup_gap, purchase_gap = (most_pageviews_between(name) for name in ("signed_up", "purchase"))
        first = live()
        deadline = time.monotonic() + 300
        while True:
            latest = live()
            grown = latest[0] - first[0]
            if grown >= 10 and latest[1] > first[1] and latest[2] > first[2]:
                break
            # +2: pageviews are read just after the metrics, a delivery may land in between.
            assert latest[1] > first[1] or grown <= signup_gap + 2, f"no signup counted: {first} -> {latest}"
            assert latest[2] > first[2] or grown <= purchase_gap + 2, (
                f"no purchase counted: {first} -> {latest}"
            )
            assert time.monotonic() < deadline, f"the sender stalled: {first} -> {latest}"
            time.sleep(1)
        # A scheduled sync (PostHog holds what the sender delivered, properties included) keeps
        # what the webhook counted: no number of the week falls back.
        before_sync = live()
        cron = requests.post(
            f"{base}/api/cron/sync-visitors", headers={"Authorization": "Bearer demo-cron-secret"}, timeout=60
        )
        assert cron.status_code == 200, cron.text
        assert all(now >= then for now, then in zip(live(), before_sync, strict=True))

        # Issue 20 #7: the test report and the test alert go somewhere the user can see.
        token = session.cookies["csrftoken"]
        for action in ("test-report", "test-alert"):
            sent = session.post(
                f"{base}/admin/metrics/weeklymetric/sync/{action}/",
                data={"csrfmiddlewaretoken": token},
                headers={"Origin": base, "Referer": f"{base}/admin/metrics/weeklymetric/sync/"},
                timeout=60,
            )
            assert sent.status_code == 200, sent.text[:2000]
        deadline = time.monotonic() + 30
        while True:  # the sends may finish after the admin's answer
            page = requests.get(outbox, timeout=10).text
            mailed = "To team@demo.example" in page and "To oncall@demo.example" in page
            # The test alert by mail and by the webhook post (besides any real alert).
            if mailed and page.count("This is a test alert") >= 2:
                break
            assert time.monotonic() < deadline, page[:3000]
            time.sleep(0.5)
        assert "[Test]" in page
        demo_pids |= descendants(script.pid)
    finally:
        os.kill(script.pid, signal.SIGINT)
        try:
            code = script.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(script.pid, signal.SIGKILL)
            raise
        for pid in demo_pids:  # last resort, so a failing test leaves nothing behind either
            if running(pid):
                os.kill(pid, signal.SIGKILL)
    assert code == 0, log_path.read_text()
    deadline = time.monotonic() + 10
    while any(running(pid) for pid in demo_pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in demo_pids if running(pid)] == []
    assert "Demo stopped." in log_path.read_text()
    assert set(os.listdir(ROOT)) - before == set()


def test_demo_mode_is_refused_without_debug():
    result = read_setting("VISITORSYNC_DEMO", DEBUG="false", SECRET_KEY="x" * 50, VISITORSYNC_DEMO="true")
    assert result.returncode != 0
    assert "VISITORSYNC_DEMO is on but DEBUG is off" in result.stderr


def test_demo_mode_with_debug_is_on():
    result = read_setting("VISITORSYNC_DEMO", DEBUG="true", VISITORSYNC_DEMO="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_production_templates_load_no_demo_code():
    result = read_setting("TEMPLATES", DEBUG="false", SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr
    assert "demo.context" not in result.stdout
    demo = read_setting("TEMPLATES", DEBUG="true", VISITORSYNC_DEMO="true")
    assert "demo.context.demo" in demo.stdout


@pytest.mark.django_db
@pytest.mark.parametrize("demo", [True, False])
def test_banner_on_every_admin_page_only_in_demo_mode(admin_user, settings, demo):
    # As visitorsync/settings.py configures demo mode: the flag, and the banner's context processor.
    settings.VISITORSYNC_DEMO = demo
    if demo:
        templates = copy.deepcopy(settings.TEMPLATES)
        templates[0]["OPTIONS"]["context_processors"].append("demo.context.demo")
        settings.TEMPLATES = templates
    client = Client()
    assert (BANNER in client.get("/admin/login/").content.decode()) is demo
    client.force_login(admin_user)
    for path in ["/admin/", "/admin/metrics/weeklymetric/", "/admin/metrics/weeklymetric/sync/"]:
        page = client.get(path)
        assert page.status_code == 200, path
        assert (BANNER in page.content.decode()) is demo, path
