"""GitHub Actions workflows: schema, security audit, and the sync step's script run for real."""

import datetime as dt
import os
import re
import socket
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import pytest
import yaml

from metrics.core import schedule, weeks
from metrics.models import SyncRun, WeeklyMetric

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
SYNC_WORKFLOW = ROOT / ".github" / "workflows" / "sync-visitors.yml"
BIN = Path(sys.executable).parent
SECRET = "workflow-test-secret-0123456789"


def load(path: Path) -> dict:
    document = yaml.safe_load(path.read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads `on` as True
    return document


def sync_step() -> dict:
    (job,) = load(SYNC_WORKFLOW)["jobs"].values()
    (step,) = [s for s in job["steps"] if "run" in s]
    return step


def test_there_are_workflows_and_the_sync_one_is_among_them():
    assert SYNC_WORKFLOW in WORKFLOWS and len(WORKFLOWS) >= 2


@pytest.mark.slow
@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_githubs_schema(path):
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_zizmor_finds_nothing():
    result = subprocess.run(
        [BIN / "zizmor", "--offline", *map(str, WORKFLOWS)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_expression_is_expanded_inside_a_script(path):
    """`${{ }}` in `run:` is pasted into the script before bash parses it: template injection."""
    for job in load(path)["jobs"].values():
        for step in job.get("steps", []):
            assert "${{" not in step.get("run", ""), step.get("name")


def test_sync_workflow_schedule_inputs_and_permissions():
    workflow = load(SYNC_WORKFLOW)
    (cron,) = [item["cron"] for item in workflow["on"]["schedule"]]
    assert schedule.longest_gap(cron) == dt.timedelta(hours=6)
    since = workflow["on"]["workflow_dispatch"]["inputs"]["since"]
    assert since["required"] is False and since["type"] == "string"
    assert workflow["permissions"] == {}


def test_sync_step_gets_secrets_through_env_and_sends_the_bearer_header():
    step = sync_step()
    assert step["env"]["APP_URL"] == "${{ secrets.APP_URL }}"
    assert step["env"]["CRON_SECRET"] == "${{ secrets.CRON_SECRET }}"
    assert step["env"]["SINCE"] == "${{ inputs.since }}"
    script = step["run"]
    assert '"Authorization: Bearer ${CRON_SECRET}"' in script
    assert '"${APP_URL%/}/api/cron/sync-visitors"' in script
    for option in ("--fail-with-body", "--connect-timeout", "--max-time"):
        assert option in script


# --- The script itself, against a live server ------------------------------------------------
def run_script(*, app_url: str, secret: str = SECRET, **env: str) -> subprocess.CompletedProcess:
    """Run the step's script the way GitHub runs a `shell: bash` step."""
    assert sync_step()["shell"] == "bash"
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(ROOT)),
        "APP_URL": app_url,
        "CRON_SECRET": secret,
        "SINCE": "",
        "DRY_RUN": "false",
        "FORCE": "false",
        "RETRY_DELAY_SECONDS": "0",
        **env,
    }
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", sync_step()["run"]],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def app(live_server, settings, posthog_stub):
    settings.CRON_SECRET = SECRET
    settings.DEBUG = False
    return live_server.url + "/"  # a trailing slash in APP_URL is tolerated


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_script_succeeds_and_prints_the_summary(app, posthog_stub):
    result = run_script(app_url=app)
    assert result.returncode == 0, result.stdout + result.stderr
    run = SyncRun.objects.get()
    assert (run.trigger, run.status) == (SyncRun.Trigger.CRON, SyncRun.Status.SUCCEEDED)
    assert "HTTP 200" in result.stdout and "Sync succeeded." in result.stdout
    assert f'"id": {run.pk}' in result.stdout and '"weeks_created": 12' in result.stdout
    assert SECRET not in result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_script_passes_since_and_dry_run(app, posthog_stub):
    since = weeks.current_week_start() - dt.timedelta(weeks=19)
    result = run_script(app_url=app, SINCE=since.isoformat(), DRY_RUN="true")
    assert result.returncode == 0, result.stdout + result.stderr
    run = SyncRun.objects.get()
    assert run.dry_run and run.first_week == since and run.weeks_checked == 20
    assert WeeklyMetric.objects.count() == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        # A malformed since is refused before calling the app.
        ({"SINCE": "2024-01-01&force=1"}, ["::error::since must be a date"]),
        # A wrong secret: the app's 401 is final, so no retry either.
        ({"secret": "wrong-secret"}, ["HTTP 401", "::error::Sync failed with HTTP 401"]),
    ],
)
def test_script_fails_without_a_sync_and_without_retrying(app, posthog_stub, arguments, said):
    result = run_script(app_url=app, **arguments)
    assert result.returncode == 1
    for line in said:
        assert line in result.stdout
    assert "attempt" not in result.stdout  # a 4xx is final
    assert SyncRun.objects.count() == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_script_treats_409_as_a_skipped_run_not_a_failure(app, posthog_stub):
    holder = SyncRun.objects.create(trigger=SyncRun.Trigger.CRONTAB)
    result = run_script(app_url=app)
    assert result.returncode == 0, result.stdout
    assert "HTTP 409" in result.stdout and "::warning::A sync is already running" in result.stdout
    assert f'"id": {holder.pk}' in result.stdout
    assert "attempt" not in result.stdout
    assert SyncRun.objects.count() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_script_does_not_retry_the_apps_own_502(app, posthog_stub):
    """The app already retried PostHog; asking again would only spend the team's queries."""
    posthog_stub.fail_next(HTTPStatus.UNAUTHORIZED, {"detail": "Invalid personal API key."})
    result = run_script(app_url=app, ATTEMPTS="3")
    assert result.returncode == 1
    assert "attempt" not in result.stdout
    assert "rejected the API key" in result.stdout
    assert "::error::Sync failed with HTTP 502" in result.stdout
    assert list(SyncRun.objects.values_list("status", flat=True)) == [SyncRun.Status.FAILED]
    assert posthog_stub.query_count == 1


class FlakyProxy:
    """A stand-in for a reverse proxy in front of a restarting app: it answers 502 with an
    HTML page `failures` times, then the app's JSON."""

    def __init__(self, failures: int) -> None:
        import http.server
        import threading

        self.failures = failures
        self.requests = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                proxy.requests += 1
                if proxy.requests <= proxy.failures:
                    status, body, kind = 502, b"<html>502 Bad Gateway</html>", "text/html"
                else:
                    status, body, kind = 200, b'{"ok": true, "run": {"id": 1}}', "application/json"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.slow
@pytest.mark.parametrize(("failures", "succeeds"), [(1, True), (3, False)])
def test_script_retries_a_proxy_502_and_gives_up_after_three(failures, succeeds):
    proxy = FlakyProxy(failures)
    try:
        result = run_script(app_url=proxy.url, ATTEMPTS="3")
    finally:
        proxy.close()
    assert (result.returncode == 0) is succeeds, result.stdout
    expected = [str(n) for n in range(1, min(failures, 3) + 1)]
    assert re.findall(r"::warning::attempt (\d)/3: HTTP 502", result.stdout) == expected
    assert proxy.requests == min(failures + 1, 3)


@pytest.mark.slow
def test_script_retries_connection_errors_then_fails():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket is closed
    result = run_script(app_url=f"http://127.0.0.1:{port}", ATTEMPTS="2")
    assert result.returncode == 1
    assert result.stdout.count("curl could not complete the request") == 2
    assert f"::error::Could not reach http://127.0.0.1:{port}" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("missing", ["APP_URL", "CRON_SECRET"])
def test_script_names_a_missing_secret(missing):
    values = {"app_url": "http://127.0.0.1:9", "secret": "s"}
    values["app_url" if missing == "APP_URL" else "secret"] = ""
    result = run_script(**values)
    assert result.returncode != 0
    assert f"Set the repository secret {missing}" in result.stderr
    assert "curl" not in result.stderr
