"""A sync run as its own process against a database the test can cut, and what it left behind.

Shared by tests/test_database_outage.py and bench/sync_lock_recovery.py: the app runs as
`manage.py` processes (the way cron and users run it), PostgreSQL sits behind a TcpProxy,
and the PostHog stand-in answers from fixture events with a latency the caller sets.
"""

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

from tests.support.posthog_stub import PostHogStub, generate_events
from tests.support.stack import ROOT, fresh_postgres_database, manage, production_env
from tests.support.tcp_proxy import TcpProxy


class OutageStack:
    """A fresh PostgreSQL database (direct URL and one through the proxy) and the stub."""

    def __init__(self, *, database_url: str, proxy: TcpProxy, stub: PostHogStub, **settings: str) -> None:
        self.database_url = database_url
        self.proxy = proxy
        self.stub = stub
        host_part, _, name = database_url.rpartition("/")
        self.proxied_url = f"{host_part.rsplit(':', 1)[0]}:{proxy.port}/{name}"
        self.settings = settings

    def env(self, **overrides: str) -> dict[str, str]:
        return production_env(
            PYTHON=sys.executable,
            DATABASE_URL=self.proxied_url,
            POSTHOG_HOST=self.stub.url,
            POSTHOG_PROJECT_ID=self.stub.project_id,
            POSTHOG_API_KEY=self.stub.api_key,
            VISITORSYNC_TIMEZONE="UTC",
            **{**self.settings, **overrides},
        )

    def start_sync(self, log_path: Path, *args: str) -> subprocess.Popen:
        """`manage.py sync_visitors` as a process of its own (stdout and stderr to `log_path`)."""
        with log_path.open("w") as log:
            return subprocess.Popen(
                [sys.executable, "manage.py", "sync_visitors", *args],
                cwd=ROOT,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )

    def sync(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return manage("sync_visitors", *args, env=self.env(), timeout=timeout)

    def query(self, sql: str, *params) -> list[tuple]:
        """Read the database directly, not through the proxy."""
        with psycopg.connect(self.database_url, connect_timeout=10) as conn:
            return conn.execute(sql, params).fetchall()

    def runs(self) -> list[tuple]:
        return self.query("SELECT id, status, error FROM metrics_syncrun ORDER BY id")

    def weeks(self) -> list[tuple]:
        return self.query(
            "SELECT week_start, visitors, pageviews, posthog_visitors, posthog_pageviews "
            "FROM metrics_weeklymetric ORDER BY week_start"
        )

    def wait_for_run_to_end(self, run_id: int, *, timeout: float) -> float | None:
        """Seconds until the run is no longer running (None if it still is after `timeout`)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            status = self.query("SELECT status FROM metrics_syncrun WHERE id = %s", run_id)
            if status and status[0][0] != "running":
                return time.monotonic() - started
            time.sleep(0.05)
        return None


@contextlib.contextmanager
def outage_stack(postgres_url: str, **settings: str) -> Iterator[OutageStack]:
    """Everything started, the database migrated; all stopped and dropped afterwards."""
    with (
        fresh_postgres_database(postgres_url, prefix="outage") as database_url,
        PostHogStub(events=generate_events(weeks=6, seed=11), timezone="UTC") as stub,
    ):
        params = psycopg.conninfo.conninfo_to_dict(database_url)
        with TcpProxy(target=(params.get("host", "127.0.0.1"), int(params.get("port", 5432)))) as proxy:
            stack = OutageStack(database_url=database_url, proxy=proxy, stub=stub, **settings)
            migrated = manage("migrate", "--noinput", env=stack.env())
            assert migrated.returncode == 0, migrated.stderr
            yield stack


def wait_for_query(stub: PostHogStub, *, timeout: float = 60) -> None:
    """Block until the stub received a query (the sync is now waiting on PostHog); clear
    `stub.query_received` before starting the sync."""
    if not stub.query_received.wait(timeout):
        raise AssertionError(f"no PostHog query arrived within {timeout} s")
