"""Helpers for tests that run visitorsync as a user does: separate processes, real HTTP.

The production environment a user sets, a fresh PostgreSQL database, and starting,
waiting for and stopping server processes by their process group. Used by
tests/test_production.py and tests/test_whole_system.py.
"""

import contextlib
import os
import re
import secrets
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]

# The variables docs/deploying.md tells a user to set (besides DATABASE_URL).
PRODUCTION_ENV = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "metrics.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://metrics.example.com",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
    "SECURE_HSTS_PRELOAD": "true",
    "POSTHOG_HOST": "https://eu.posthog.com",
    "POSTHOG_PROJECT_ID": "4242",
    "POSTHOG_API_KEY": "phx_" + "p" * 40,
    # Generated, as the docs say (40 times "w" would be metrics.W007).
    "POSTHOG_WEBHOOK_SECRET": "D5pxc7UzYZ9BIrWXlRaO1oys1p-D03VBa6rEtqTveUo",
    "CRON_SECRET": "h7nfyRiMSpvQWcfLxXii17XY0q_QbfcQH2pVFG9mvqI",
    "VISITORSYNC_TIMEZONE": "Europe/Berlin",
}


def production_env(**overrides: str) -> dict[str, str]:
    """A process environment with only the documented production variables (no .env)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VISITORSYNC_", "POSTHOG_", "SECURE_", "SESSION_", "CSRF_", "GUNICORN_"))
        and k not in ("DATABASE_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "CRON_SECRET", "PORT")
        and k not in ("WEB_CONCURRENCY", "DJANGO_SETTINGS_MODULE", "STATIC_ROOT")
    }
    env.update(PRODUCTION_ENV)
    env.update(VISITORSYNC_ENV_FILE="", SECRET_KEY=secrets.token_urlsafe(50))
    env.update(overrides)
    return env


def serve_env(
    *,
    database_url: str,
    port: int,
    static_root: Path,
    workers: int | None = None,
    threads: int | None = None,
    **overrides: str,
) -> dict[str, str]:
    """production_env for `scripts/serve`: gunicorn on 127.0.0.1:`port` with this database;
    `workers`/`threads` None keeps gunicorn.conf.py's own sizes, the ones production runs with."""
    sizes = {"WEB_CONCURRENCY": workers, "GUNICORN_THREADS": threads}
    return production_env(
        PYTHON=sys.executable,
        DATABASE_URL=database_url,
        ALLOWED_HOSTS="127.0.0.1",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        STATIC_ROOT=str(static_root),
        **{name: str(value) for name, value in sizes.items() if value is not None},
        **overrides,
    )


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `manage.py` as a separate process, the way a user types it."""
    command = [sys.executable, "manage.py", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def migrate_with_superuser(env: dict[str, str], *, username: str, password: str) -> None:
    """`migrate`, then `createsuperuser` with this name and password, as separate processes."""
    assert manage("migrate", "--noinput", env=env).returncode == 0
    created = manage(
        "createsuperuser",
        "--noinput",
        f"--username={username}",
        "--email=admin@example.com",
        env={**env, "DJANGO_SUPERUSER_PASSWORD": password},
    )
    assert created.returncode == 0, created.stderr


# --- PostgreSQL -------------------------------------------------------------------------------
def postgres_url_or_skip() -> str:
    """The test server's URL; skips outside the PostgreSQL half of scripts/test."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.skip("runs in the PostgreSQL half of scripts/test (DATABASE_URL=postgres://...)")
    return url


@contextlib.contextmanager
def fresh_postgres_database(url: str, *, prefix: str) -> Iterator[str]:
    """Create a new, empty database on the server of `url`; yield its URL; drop it afterwards."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin_conninfo = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin_conninfo, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        params = psycopg.conninfo.conninfo_to_dict(psycopg.conninfo.make_conninfo(url, dbname=name))
        user = params.get("user", "postgres")
        password = f":{params['password']}" if params.get("password") else ""
        host, port = params.get("host", "127.0.0.1"), params.get("port", "5432")
        yield f"postgres://{user}{password}@{host}:{port}/{name}"
    finally:
        with psycopg.connect(admin_conninfo, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# --- HTTP -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, **headers: str):
    """GET without following redirects; returns (status, headers, body)."""
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def admin_session(base: str, *, username: str, password: str, behind_proxy: bool = True) -> requests.Session:
    """A browser-like session logged into the admin: the login page, its CSRF token, the
    credentials. Behind a TLS proxy (the default) every request carries the proxy's
    X-Forwarded-Proto and the browser's origin is https; without one (the demo) plain http."""
    session = requests.Session()
    session.headers.update({"User-Agent": "Mozilla/5.0 (whole-system test)"})
    origin = base
    if behind_proxy:
        session.headers["X-Forwarded-Proto"] = "https"
        origin = base.replace("http://", "https://")  # the browser is on the proxy's https origin
    login = session.get(f"{base}/admin/login/?next=/admin/", timeout=30)
    assert login.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
    assert token and "csrftoken" in session.cookies
    response = session.post(
        f"{base}/admin/login/?next=/admin/",
        data={
            "csrfmiddlewaretoken": token.group(1),
            "username": username,
            "password": password,
            "next": "/admin/",
        },
        headers={"Origin": origin, "Referer": f"{origin}/admin/login/"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302, response.text[:2000]
    assert response.headers["Location"] == "/admin/"
    assert "sessionid" in session.cookies
    return session


# --- Processes ------------------------------------------------------------------------------
def start_process(
    args: list[str], *, env: dict[str, str], log_path: Path, stdout_pipe: bool = False
) -> subprocess.Popen:
    """Start a server in a process group of its own, so it and all its children can be stopped.

    Output goes to `log_path`; with `stdout_pipe`, stdout is a pipe (see `read_line`) and only
    stderr goes to the log.
    """
    with log_path.open("w") as log_file:
        return subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE if stdout_pipe else log_file,
            stderr=log_file if stdout_pipe else subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )


def wait_until_serving(url: str, process: subprocess.Popen, log_path: Path, *, timeout: float = 120) -> None:
    """Poll until the server answers; fails early if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args} exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            fetch(url)
            return
        except (ConnectionError, urllib.error.URLError):
            time.sleep(0.25)
    pytest.fail(f"{process.args} did not start answering within {timeout:.0f} s:\n{log_path.read_text()}")


def start_serve(
    env: dict[str, str], *, log_path: Path, port: int, migrate: bool = True, path: str = "/api/sync"
) -> subprocess.Popen:
    """`scripts/serve` (gunicorn) in a process group of its own, once it answers `path` on
    127.0.0.1:`port`; stopped again if it never does."""
    args = [str(ROOT / "scripts" / "serve"), *([] if migrate else ["--no-migrate"])]
    process = start_process(args, env=env, log_path=log_path)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}{path}", process, log_path, timeout=90)
    except BaseException:
        stop_group(process)
        raise
    return process


def read_line(process: subprocess.Popen, *, timeout: float) -> str:
    """The next line the process writes to its stdout pipe, waiting at most `timeout` seconds."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        pytest.fail(f"{process.args} wrote nothing within {timeout:.0f} s")
    return process.stdout.readline()


def process_group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_group(process: subprocess.Popen) -> None:
    """Stop the process group led by `process`, by its id, then wait until none of it is left."""
    pgid = process.pid  # start_new_session: the group id is the leader's pid
    if process_group_alive(pgid):
        os.killpg(pgid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(pgid, signal.SIGKILL)
        process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while process_group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if process_group_alive(pgid):  # a child ignored SIGTERM after its leader exited
        os.killpg(pgid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while process_group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
    if process.stdout is not None:
        process.stdout.close()
