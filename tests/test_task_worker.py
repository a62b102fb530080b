"""A sync started from the admin survives the web process that started it, with the worker.

Real processes on a fresh PostgreSQL database: gunicorn (`scripts/serve`) with
VISITORSYNC_TASK_BACKEND=database, `manage.py db_worker`, and the loopback PostHog stub.
The web process is killed (SIGKILL, its whole process group) right after the click.
"""

import os
import signal
import sys
import time

import pytest

from tests.support.helpers import expected
from tests.support.posthog_stub import PostHogStub, generate_events
from tests.support.stack import (
    ROOT,
    admin_session,
    free_port,
    fresh_postgres_database,
    migrate_with_superuser,
    postgres_url_or_skip,
    process_group_alive,
    serve_env,
    start_process,
    stop_group,
    wait_until_serving,
)

ADMIN_USER, ADMIN_PASSWORD = "admin", "task-worker-admin-password-1"
SYNC_URL = "/admin/metrics/weeklymetric/sync/"
SYNC_START_URL = "/admin/metrics/weeklymetric/sync/start/"


def stored(database_url: str) -> dict:
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT week_start, visitors, pageviews FROM metrics_weeklymetric").fetchall()
    return {week: (visitors, pageviews) for week, visitors, pageviews in rows}


def run_status(database_url: str, run_id: int) -> tuple[str, str]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT status, error FROM metrics_syncrun WHERE id = %s", (run_id,)).fetchone()


@pytest.mark.slow
def test_a_sync_started_from_the_admin_completes_although_the_web_process_was_killed(tmp_path, settings):
    settings.VISITORSYNC_TIMEZONE = "UTC"
    settings.VISITORSYNC_BACKFILL_WEEKS = 12
    with (
        fresh_postgres_database(postgres_url_or_skip(), prefix="task_worker") as database_url,
        # Six queries of a second each: the sync is still running when the web process dies.
        PostHogStub(events=generate_events(weeks=14, seed=5), timezone="UTC", latency=1.0) as stub,
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
            VISITORSYNC_BACKFILL_WEEKS="12",
            VISITORSYNC_CHUNK_WEEKS="2",
            VISITORSYNC_TASK_BACKEND="database",
            SESSION_COOKIE_SECURE="false",
            CSRF_COOKIE_SECURE="false",
        )
        migrate_with_superuser(env, username=ADMIN_USER, password=ADMIN_PASSWORD)
        web_log, worker_log = tmp_path / "serve.log", tmp_path / "worker.log"
        web = start_process([str(ROOT / "scripts" / "serve"), "--no-migrate"], env=env, log_path=web_log)
        worker = start_process(
            [sys.executable, "manage.py", "db_worker", "--interval", "0.2"], env=env, log_path=worker_log
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_serving(f"{base}/api/sync", web, web_log)
            session = admin_session(base, username=ADMIN_USER, password=ADMIN_PASSWORD)
            page = session.get(f"{base}{SYNC_URL}", timeout=30)
            token = session.cookies["csrftoken"]
            origin = base.replace("http://", "https://")
            started = session.post(
                f"{base}{SYNC_START_URL}",
                data={"csrfmiddlewaretoken": token},
                headers={"Origin": origin, "Referer": f"{origin}{SYNC_URL}"},
                timeout=30,
            )
            assert page.status_code == 200 and started.status_code == 202, started.text[:500]
            run_id = started.json()["id"]
            # The web process dies right after answering the click, mid-sync or before it began.
            os.killpg(web.pid, signal.SIGKILL)
            web.wait(timeout=30)
            gone = time.monotonic() + 10
            while process_group_alive(web.pid) and time.monotonic() < gone:
                time.sleep(0.05)  # the killed workers are being reaped
            assert not process_group_alive(web.pid)

            deadline = time.monotonic() + 90
            while run_status(database_url, run_id)[0] == "running":
                assert time.monotonic() < deadline, worker_log.read_text()
                time.sleep(0.2)
            status, error = run_status(database_url, run_id)
            assert (status, error) == ("succeeded", ""), worker_log.read_text()
            assert stored(database_url) == expected(stub, settings)
            assert stub.query_count == 6
        finally:
            stop_group(worker)
            stop_group(web)
        assert not process_group_alive(worker.pid) and not process_group_alive(web.pid)
