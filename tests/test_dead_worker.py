"""A task worker killed (SIGKILL) mid-sync: the status tells the truth as soon as the abandon
limit has passed, and nothing stays RUNNING forever.

Real processes: gunicorn (`scripts/serve`) with VISITORSYNC_TASK_BACKEND=database, `manage.py
db_worker`, and the loopback PostHog stand-in, on a fresh SQLite file and (in the PostgreSQL
half of scripts/test) a fresh PostgreSQL database. A sync started from the admin waits on
PostHog when the worker's whole process group is killed; VISITORSYNC_SYNC_ABANDON_AFTER is 3 s
so the test need not wait long.
"""

import contextlib
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.posthog_stub import PostHogStub, generate_events
from tests.support.stack import (
    ROOT,
    admin_session,
    free_port,
    fresh_postgres_database,
    manage,
    migrate_with_superuser,
    postgres_url_or_skip,
    process_group_alive,
    serve_env,
    start_process,
    stop_group,
    wait_until_serving,
)

ADMIN_USER, ADMIN_PASSWORD = "admin", "dead-worker-admin-password-1"
SYNC_URL = "/admin/metrics/weeklymetric/sync/"
ABANDON_AFTER = 3
BOUND = 60  # seconds: a bound on waiting for what must come a few seconds after the limit


@contextlib.contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.sqlite3'}"
    else:
        with fresh_postgres_database(postgres_url_or_skip(), prefix="dead_worker") as url:
            yield url


def query(database_url: str, sql: str, *params) -> list[tuple]:
    """Read the database directly, as neither the app nor the worker does."""
    if database_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as conn:
            return conn.execute(sql.replace("%s", "?"), params).fetchall()
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, params).fetchall()


def start_sync_from_the_admin(base: str) -> int:
    session = admin_session(base, username=ADMIN_USER, password=ADMIN_PASSWORD)
    page = session.get(f"{base}{SYNC_URL}", timeout=30)
    origin = base.replace("http://", "https://")
    started = session.post(
        f"{base}{SYNC_URL}start/",
        data={"csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Origin": origin, "Referer": f"{origin}{SYNC_URL}"},
        timeout=30,
    )
    assert page.status_code == 200 and started.status_code == 202, started.text[:500]
    return started.json()["id"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_killed_worker_s_sync_is_shown_abandoned_unhealthy_and_its_task_failed(tmp_path, kind):
    with (
        database(kind, tmp_path) as database_url,
        PostHogStub(events=generate_events(weeks=6, seed=5), timezone="UTC") as stub,
    ):
        port = free_port()
        env = serve_env(
            database_url=database_url,
            port=port,
            static_root=tmp_path / "static",
            workers=1,
            threads=2,
            POSTHOG_HOST=stub.url,
            POSTHOG_PROJECT_ID=stub.project_id,
            POSTHOG_API_KEY=stub.api_key,
            VISITORSYNC_TIMEZONE="UTC",
            VISITORSYNC_BACKFILL_WEEKS="4",
            VISITORSYNC_SYNC_ABANDON_AFTER=str(ABANDON_AFTER),
            VISITORSYNC_TASK_BACKEND="database",
            SESSION_COOKIE_SECURE="false",
            CSRF_COOKIE_SECURE="false",
        )
        migrate_with_superuser(env, username=ADMIN_USER, password=ADMIN_PASSWORD)
        synced = manage("sync_visitors", env=env)  # a recent success: healthy until the worker dies
        assert synced.returncode == 0, synced.stderr
        web_log, worker_log = tmp_path / "serve.log", tmp_path / "worker.log"
        web = start_process([str(ROOT / "scripts" / "serve"), "--no-migrate"], env=env, log_path=web_log)
        worker = start_process(
            [sys.executable, "manage.py", "db_worker", "--interval", "0.2"], env=env, log_path=worker_log
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_serving(f"{base}/api/sync", web, web_log)
            stub.latency = 600.0  # the sync waits on PostHog until its worker is killed
            stub.query_received.clear()
            run_id = start_sync_from_the_admin(base)
            assert stub.query_received.wait(BOUND), worker_log.read_text()
            alive = requests.get(f"{base}/api/sync", timeout=30).json()
            assert alive["running"]["id"] == run_id and alive["healthy"] is True

            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
            deadline = time.monotonic() + BOUND
            while process_group_alive(worker.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            killed_at = time.monotonic()

            # Nobody claims the lock meanwhile: reading the status alone must tell the truth.
            while (status := requests.get(f"{base}/api/sync", timeout=30).json())["running"] is not None:
                assert status["running"]["id"] == run_id
                assert time.monotonic() - killed_at < BOUND, "the dead run still shows as running"
                time.sleep(0.2)
            assert status["abandoned"] is True and status["healthy"] is False
            last = status["last_run"]
            assert (last["id"], last["status"], last["failed"], last["abandoned"]) == (
                run_id,
                "failed",
                True,
                True,
            )
            [(run_status, error, phase)] = query(
                database_url, "SELECT status, error, phase FROM metrics_syncrun WHERE id = %s", run_id
            )
            assert (run_status, phase) == ("failed", "Abandoned")
            assert error.startswith(f"Abandoned: no progress for {ABANDON_AFTER} seconds")
            assert "It is not retried" in error
            # The task row the dead worker held is failed too, not RUNNING forever.
            [(task_status, traceback)] = query(
                database_url,
                "SELECT status, traceback FROM django_tasks_database_dbtaskresult WHERE task_path = %s",
                "metrics.jobs.tasks.run_claimed_sync",
            )
            assert task_status == "FAILED" and traceback.startswith(f"Sync #{run_id} failed: Abandoned")
            # A later sync (the next scheduled one, or a click) runs; healthy again once it succeeds.
            stub.latency = 0.0
            again = manage("sync_visitors", env=env)
            assert again.returncode == 0, again.stderr
            status = requests.get(f"{base}/api/sync", timeout=30).json()
            assert status["abandoned"] is False and status["healthy"] is True
        finally:
            stop_group(worker)
            stop_group(web)
        assert "Traceback" not in web_log.read_text()
