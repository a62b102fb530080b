"""The production profile: deploy checks, HTTPS redirects, gunicorn config, and scripts/serve."""

import re
import runpy
import subprocess
import sys
from http import HTTPStatus

import pytest
from django.conf import settings as django_settings

from metrics.posthog import PostHogConfig
from tests.support import stack


# --- check --deploy ----------------------------------------------------------------------------
@pytest.mark.slow
def test_deploy_check_passes_with_the_documented_production_variables():
    result = stack.manage("check", "--deploy", "--fail-level", "WARNING", env=stack.production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "check_id", "words"),
    [
        pytest.param({"SECRET_KEY": "short-key"}, "security.W009", "SECRET_KEY", id="short-secret-key"),
        pytest.param({"SECURE_HSTS_SECONDS": "0"}, "security.W004", "SECURE_HSTS_SECONDS", id="hsts-off"),
        pytest.param(
            {"SECURE_SSL_REDIRECT": "false"}, "security.W008", "SECURE_SSL_REDIRECT", id="no-redirect"
        ),
        pytest.param(
            {"SESSION_COOKIE_SECURE": "false"}, "security.W012", "SESSION_COOKIE_SECURE", id="insecure-cookie"
        ),
        pytest.param({"DEBUG": "true"}, "security.W018", "DEBUG", id="debug-on"),
        pytest.param(
            {"POSTHOG_API_KEY": "phc_project_key"}, "metrics.W001", "personal API key", id="phc-key"
        ),
        pytest.param({"CRON_SECRET": "a"}, "metrics.W007", "CRON_SECRET is shorter", id="weak-cron-secret"),
        pytest.param(
            {"VISITORSYNC_API_TOKENS": stack.PRODUCTION_ENV["CRON_SECRET"]},
            "metrics.W008",
            "CRON_SECRET and VISITORSYNC_API_TOKENS hold the same value",
            id="api-token-is-the-cron-secret",
        ),
    ],
)
def test_deploy_check_fails_and_names_the_problem(overrides, check_id, words):
    result = stack.manage(
        "check", "--deploy", "--fail-level", "WARNING", env=stack.production_env(**overrides)
    )
    assert result.returncode != 0
    assert check_id in result.stderr
    assert words in result.stderr


@pytest.mark.slow
def test_malformed_proxy_header_setting_is_refused_with_an_example():
    result = stack.manage("check", env=stack.production_env(SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto"))
    assert result.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER must be" in result.stderr
    assert "HTTP_X_FORWARDED_PROTO,https" in result.stderr


# --- HTTPS redirect ---------------------------------------------------------------------------
@pytest.fixture
def https_profile(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.ALLOWED_HOSTS = ["metrics.example.com"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/webhooks/posthog"),
        ("get", "/api/cron/sync-visitors"),
        ("post", "/api/cron/sync-visitors"),
        ("get", "/api/sync"),
    ],
)
@pytest.mark.django_db
def test_api_over_plain_http_is_never_redirected(client, https_profile, method, path):
    response = getattr(client, method)(path, HTTP_HOST="metrics.example.com")
    assert not 300 <= response.status_code < 400, response.get("Location")


def test_admin_over_plain_http_is_redirected_to_https(client, https_profile):
    response = client.get("/admin/login/", HTTP_HOST="metrics.example.com")
    assert response.status_code == HTTPStatus.MOVED_PERMANENTLY
    assert response["Location"] == "https://metrics.example.com/admin/login/"


@pytest.mark.django_db
def test_admin_behind_a_tls_proxy_is_served_with_hsts(client, https_profile):
    response = client.get("/admin/login/", HTTP_HOST="metrics.example.com", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == HTTPStatus.OK
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


# --- gunicorn.conf.py ---------------------------------------------------------------------------
def gunicorn_config(monkeypatch, **env: str) -> dict:
    monkeypatch.setenv("VISITORSYNC_ENV_FILE", "")
    for name in (
        "PORT",
        "GUNICORN_BIND",
        "WEB_CONCURRENCY",
        "GUNICORN_THREADS",
        "GUNICORN_TIMEOUT",
        "FORWARDED_ALLOW_IPS",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(stack.ROOT / "gunicorn.conf.py"))


def test_gunicorn_defaults_suit_a_small_io_bound_server(monkeypatch):
    config = gunicorn_config(monkeypatch)
    assert config["bind"] == "127.0.0.1:8000"  # only the proxy on this host reaches it
    assert config["worker_class"] == "gthread"
    assert config["workers"] == 2 and config["threads"] == 4
    assert config["accesslog"] == "-"


def test_gunicorn_opens_no_control_socket(monkeypatch):
    """gunicorn 25.1+ would open one at a path shared by every instance of the user."""
    assert gunicorn_config(monkeypatch)["control_socket_disable"] is True


def test_gunicorn_outlasts_a_sync_that_retries_posthog(monkeypatch):
    config = gunicorn_config(monkeypatch)
    one_query = PostHogConfig.from_settings().longest_query
    assert config["timeout"] > one_query
    assert config["graceful_timeout"] > one_query
    assert config["timeout"] >= django_settings.VISITORSYNC_SYNC_ABANDON_AFTER


def test_gunicorn_listens_on_loopback_unless_port_or_bind_is_set(monkeypatch):
    # Slow clients hold gunicorn's threads (tests/test_proxy.py), so by default only a
    # proxy on the same host can reach it; an empty value counts as unset.
    assert gunicorn_config(monkeypatch, PORT="", GUNICORN_BIND=" ")["bind"] == "127.0.0.1:8000"
    # A platform's router sets PORT and reaches gunicorn from outside its container.
    assert gunicorn_config(monkeypatch, PORT="5000")["bind"] == "0.0.0.0:5000"
    assert gunicorn_config(monkeypatch, GUNICORN_BIND="0.0.0.0:8000")["bind"] == "0.0.0.0:8000"


def test_gunicorn_reads_port_bind_and_sizes_from_the_environment(monkeypatch):
    assert gunicorn_config(monkeypatch, PORT="5000")["bind"] == "0.0.0.0:5000"
    assert gunicorn_config(monkeypatch, FORWARDED_ALLOW_IPS="10.0.0.2")["forwarded_allow_ips"] == "10.0.0.2"
    config = gunicorn_config(
        monkeypatch, PORT="5000", GUNICORN_BIND="unix:/run/visitorsync.sock", WEB_CONCURRENCY="3"
    )
    assert config["bind"] == "unix:/run/visitorsync.sock"
    assert config["workers"] == 3


def test_gunicorn_reads_the_env_file(monkeypatch, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=6123\nGUNICORN_THREADS=8\n")
    for name in ("PORT", "GUNICORN_THREADS", "GUNICORN_BIND"):
        # Recorded by monkeypatch, so what the file adds to os.environ is undone afterwards.
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    monkeypatch.setenv("VISITORSYNC_ENV_FILE", str(env_file))
    config = runpy.run_path(str(stack.ROOT / "gunicorn.conf.py"))
    assert config["bind"] == "0.0.0.0:6123" and config["threads"] == 8


def test_gunicorn_refuses_a_non_numeric_size(monkeypatch):
    with pytest.raises(SystemExit, match="WEB_CONCURRENCY must be a whole number"):
        gunicorn_config(monkeypatch, WEB_CONCURRENCY="many")


# --- scripts/serve --------------------------------------------------------------------------------
@pytest.mark.slow
def test_serve_refuses_to_start_without_database_url(tmp_path):
    result = subprocess.run(
        [str(stack.ROOT / "scripts" / "serve")],
        cwd=tmp_path,
        env=stack.production_env(PYTHON=sys.executable),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "DATABASE_URL is not set" in result.stderr


@pytest.mark.slow
def test_serve_runs_migrated_gunicorn_with_static_files_on_postgres(tmp_path):
    with stack.fresh_postgres_database(stack.postgres_url_or_skip(), prefix="prod_smoke") as database_url:
        serve_on_fresh_database(database_url, tmp_path)


def serve_on_fresh_database(database_url: str, tmp_path) -> None:
    port = stack.free_port()
    base = f"http://127.0.0.1:{port}"
    env = stack.serve_env(
        database_url=database_url, port=port, static_root=tmp_path / "static", workers=1, threads=2
    )
    log_path = tmp_path / "serve.log"
    process = stack.start_process([str(stack.ROOT / "scripts" / "serve")], env=env, log_path=log_path)
    try:
        stack.wait_until_serving(f"{base}/api/sync", process, log_path)

        # Through the TLS proxy (it sets X-Forwarded-Proto): the admin login page renders,
        # which needs the migrated database and the static manifest.
        status, _, body = stack.fetch(f"{base}/admin/login/", **{"X-Forwarded-Proto": "https"})
        assert status == HTTPStatus.OK
        stylesheet = re.search(rb'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', body)
        assert stylesheet, "the login page does not link a content-hashed stylesheet"
        status, headers, css = stack.fetch(
            base + stylesheet.group(1).decode(), **{"X-Forwarded-Proto": "https"}
        )
        assert status == HTTPStatus.OK
        assert b"body" in css
        assert "max-age=315360000" in headers["Cache-Control"]
        assert "immutable" in headers["Cache-Control"]

        # Plain http: the admin redirects to https, the API never does.
        status, headers, _ = stack.fetch(f"{base}/admin/login/")
        assert status == HTTPStatus.MOVED_PERMANENTLY
        assert headers["Location"].startswith("https://")
        status, _, _ = stack.fetch(f"{base}/api/sync")
        assert not 300 <= status < 400
    finally:
        stack.stop_group(process)
    assert not stack.process_group_alive(process.pid), "a process of scripts/serve is still running"
    log = log_path.read_text()
    assert "Booting worker" in log and '"GET /admin/login/ HTTP/1.1" 200' in log
