"""A database that drops or locks during a sync, and a sync whose process is killed.

Real processes: `manage.py sync_visitors` as cron runs it, PostgreSQL behind a TCP proxy the
test cuts, a SQLite file another process locks, and `kill -9`. After any of these the
failure is recorded where the user sees it, the lock is freed, and no number changed.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from tests.support.posthog_stub import PostHogStub, generate_events
from tests.support.stack import ROOT, manage, postgres_url_or_skip, production_env, start_serve
from tests.support.sync_outage import outage_stack, wait_for_query

pytestmark = pytest.mark.slow

# A heartbeat every second (a sixth of the limit), so one falls inside a short outage.
FAST_HEARTBEAT = {"VISITORSYNC_SYNC_ABANDON_AFTER": "6", "VISITORSYNC_BACKFILL_WEEKS": "4"}


def test_a_database_cut_while_waiting_on_posthog_is_recorded_and_frees_the_lock(tmp_path):
    with outage_stack(postgres_url_or_skip(), **FAST_HEARTBEAT) as stack:
        first = stack.sync()
        assert first.returncode == 0, first.stderr
        before = stack.weeks()
        assert before and any(week[1] for week in before)

        stack.stub.latency = 3.0
        stack.stub.query_received.clear()
        process = stack.start_sync(tmp_path / "sync.log")
        wait_for_query(stack.stub)
        run_id = max(run[0] for run in stack.runs())
        stack.proxy.cut()
        time.sleep(1.0)
        stack.proxy.restore()
        assert process.wait(timeout=60) == 1
        output = (tmp_path / "sync.log").read_text()

        assert f"Sync #{run_id} failed: The database failed during the sync" in output
        assert "Traceback" not in output
        status, error = stack.query("SELECT status, error FROM metrics_syncrun WHERE id = %s", run_id)[0]
        assert status == "failed" and error.startswith("The database failed during the sync")
        assert stack.query("SELECT count(*) FROM metrics_syncrun WHERE status = 'running'") == [(0,)]
        assert stack.weeks() == before
        # The lock is free at once: the next sync runs and succeeds.
        stack.stub.latency = 0.0
        again = stack.sync()
        assert again.returncode == 0, again.stderr


def test_the_cron_endpoint_answers_its_json_error_when_the_database_drops(tmp_path):
    import requests

    from tests.support.stack import free_port, stop_group

    with outage_stack(postgres_url_or_skip(), **FAST_HEARTBEAT) as stack:
        port = free_port()
        env = stack.env(
            ALLOWED_HOSTS="127.0.0.1",
            GUNICORN_BIND=f"127.0.0.1:{port}",
            WEB_CONCURRENCY="1",
            GUNICORN_THREADS="2",
            STATIC_ROOT=str(tmp_path / "static"),
        )
        log_path = tmp_path / "serve.log"
        server = start_serve(env, log_path=log_path, port=port, migrate=False)
        try:
            before = stack.weeks()
            stack.stub.latency = 3.0
            stack.stub.query_received.clear()
            answer: dict = {}

            def call_cron() -> None:
                answer["response"] = requests.post(
                    f"http://127.0.0.1:{port}/api/cron/sync-visitors",
                    headers={"Authorization": f"Bearer {env['CRON_SECRET']}", "X-Forwarded-Proto": "https"},
                    timeout=60,
                )

            caller = threading.Thread(target=call_cron)
            caller.start()
            wait_for_query(stack.stub)
            stack.proxy.cut()
            time.sleep(1.0)
            stack.proxy.restore()
            caller.join(timeout=60)
            response = answer["response"]
            assert response.status_code == 503, response.text
            assert response.headers["Content-Type"] == "application/json"
            body = response.json()
            assert body["ok"] is False and body["error"].startswith("The database failed during the sync")
            assert body["run"]["status"] == "failed"
            assert stack.query("SELECT count(*) FROM metrics_syncrun WHERE status = 'running'") == [(0,)]
            assert stack.weeks() == before
            status = requests.get(f"http://127.0.0.1:{port}/api/sync", timeout=30).json()
            assert status["running"] is None and status["last_run"]["failed"] is True
            assert "Traceback" not in log_path.read_text()
        finally:
            stop_group(server)


def test_a_live_sync_keeps_its_lock_past_the_abandon_limit_and_a_killed_one_frees_it_soon(tmp_path):
    """The heartbeat beats while the sync waits on PostHog, on its own connection."""
    with outage_stack(postgres_url_or_skip(), VISITORSYNC_SYNC_ABANDON_AFTER="3") as stack:
        stack.stub.latency = 8.0  # one query far longer than the abandon limit
        stack.stub.query_received.clear()
        live = stack.start_sync(tmp_path / "live.log")
        wait_for_query(stack.stub)
        time.sleep(5.0)  # past the limit: only the heartbeat keeps the run alive
        refused = stack.sync()
        assert refused.returncode == 1
        assert "has been running since" in refused.stderr
        assert live.wait(timeout=60) == 0, (tmp_path / "live.log").read_text()
        assert [run[1] for run in stack.runs()] == ["succeeded"]

        stack.stub.query_received.clear()
        doomed = stack.start_sync(tmp_path / "doomed.log")
        wait_for_query(stack.stub)
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=30)
        killed_at = time.monotonic()
        stack.stub.latency = 0.0
        # Bounded: the lock must be free a little after the limit (3 s), not after 900 s.
        while True:
            attempt = stack.sync()
            if attempt.returncode == 0:
                break
            assert "has been running since" in attempt.stderr, attempt.stderr
            assert time.monotonic() - killed_at < 30, "the killed sync still holds the lock"
            time.sleep(0.5)
        statuses = [run[1:] for run in stack.runs()]
        assert statuses[1][0] == "failed" and statuses[1][1].startswith(
            "Abandoned: no progress for 3 seconds"
        )
        assert statuses[2][0] == "succeeded"


def test_a_sqlite_file_locked_at_write_time_is_recorded_and_frees_the_lock(tmp_path):
    database = tmp_path / "app.sqlite3"
    with PostHogStub(events=generate_events(weeks=6, seed=11), timezone="UTC") as stub:
        env = production_env(
            PYTHON=sys.executable,
            DATABASE_URL=f"sqlite:///{database}",
            POSTHOG_HOST=stub.url,
            POSTHOG_PROJECT_ID=stub.project_id,
            POSTHOG_API_KEY=stub.api_key,
            VISITORSYNC_TIMEZONE="UTC",
            VISITORSYNC_BACKFILL_WEEKS="4",
            SQLITE_BUSY_TIMEOUT="1",
        )
        assert manage("migrate", "--noinput", env=env).returncode == 0
        assert manage("sync_visitors", env=env).returncode == 0
        reader = sqlite3.connect(database)
        weeks_sql = "SELECT week_start, visitors, pageviews FROM metrics_weeklymetric ORDER BY week_start"
        before = reader.execute(weeks_sql).fetchall()

        stub.latency = 2.0
        stub.query_received.clear()
        log_path = tmp_path / "sync.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "manage.py", "sync_visitors"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_query(stub)
        # Another process holds the write lock while the sync comes back to write, for longer
        # than its busy timeout; then lets go, so the failure can be recorded.
        locker = sqlite3.connect(database, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        time.sleep(4.0)
        locker.execute("ROLLBACK")
        locker.close()
        assert process.wait(timeout=60) == 1
        output = log_path.read_text()
        assert "failed: The database failed during the sync (OperationalError: database is locked)" in output
        assert "Traceback" not in output
        runs = reader.execute("SELECT status, error FROM metrics_syncrun ORDER BY id").fetchall()
        assert [status for status, _ in runs] == ["succeeded", "failed"]
        assert runs[1][1].startswith("The database failed during the sync")
        assert (
            reader.execute("SELECT week_start, visitors, pageviews FROM metrics_weeklymetric").fetchall()
            == before
        )
        reader.close()
        stub.latency = 0.0
        assert manage("sync_visitors", env=env).returncode == 0
