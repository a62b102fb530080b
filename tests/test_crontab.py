"""The django-crontab job: installed with `manage.py crontab add`, run by the exact line cron runs."""

import datetime as dt
import io
import logging
import os
import re
import stat
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from metrics.core import weeks
from metrics.jobs import crontab as crontab_jobs
from metrics.models import SyncRun, WeeklyMetric
from tests.support.environment import read_setting
from tests.support.helpers import expected, stored_numbers

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^(?P<schedule>(?:\S+\s+){5})(?P<command>.*?)\s+# (?P<comment>.*)$")


@pytest.fixture
def crontab(tmp_path, settings):
    """A `crontab` executable that keeps the table in a file instead of the system's spool."""
    table = tmp_path / "crontab.txt"
    shim = tmp_path / "crontab"
    shim.write_text(
        "#!/bin/sh\n"
        f"table='{table}'\n"
        'case "$1" in\n'
        '  -l) if [ -f "$table" ]; then cat "$table"; else echo "no crontab" >&2; exit 1; fi ;;\n'
        '  -r) rm -f "$table" ;;\n'
        '  *) cp "$1" "$table" ;;\n'
        "esac\n"
    )
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    settings.CRONTAB_EXECUTABLE = str(shim)
    return table


def crontab_command(*args: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):  # django-crontab prints rather than writing to self.stdout
        call_command("crontab", *args)
    return out.getvalue()


def cron_environment(stub, tmp_path: Path, **overrides: str) -> dict[str, str]:
    """What cron gives a job (almost nothing), plus the settings a deployment's .env would hold."""
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        database_url = f"sqlite:///{name}"
    else:
        s = connection.settings_dict
        database_url = f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{name}"
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SHELL": "/bin/sh",
        "TMPDIR": str(tmp_path),  # django-crontab's lock files; keeps parallel suites apart
        "VISITORSYNC_ENV_FILE": "",
        "SECRET_KEY": "crontab-test-" + "k" * 40,
        "DATABASE_URL": database_url,
        "POSTHOG_HOST": stub.url,
        "POSTHOG_PROJECT_ID": stub.project_id,
        "POSTHOG_API_KEY": stub.api_key,
        "VISITORSYNC_TIMEZONE": os.environ["VISITORSYNC_TIMEZONE"],
        **overrides,
    }


def installed_line(table: Path) -> re.Match:
    lines = [line for line in table.read_text().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    match = LINE.match(lines[0])
    assert match, lines[0]
    return match


def run_cron_line(command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run the command exactly as cron does: `/bin/sh -c <command>`."""
    return subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, text=True, timeout=120)


def test_add_show_remove(crontab, settings):
    crontab.write_text("15 3 * * * /usr/bin/backup  # someone else's job\n")
    crontab_command("add")
    lines = crontab.read_text().splitlines()
    assert lines[0] == "15 3 * * * /usr/bin/backup  # someone else's job"
    match = LINE.match(lines[1])
    assert match["schedule"].split() == settings.VISITORSYNC_CRON_SCHEDULE.split()
    assert match["comment"] == "visitorsync scheduled sync"
    assert "metrics.jobs.crontab.sync_visitors_job" in crontab_command("show")
    crontab_command("remove")
    assert crontab.read_text().splitlines() == ["15 3 * * * /usr/bin/backup  # someone else's job"]


def test_log_setting_appends_output_to_a_file(crontab, settings):
    result = read_setting(
        "CRONTAB_COMMAND_SUFFIX", SECRET_KEY="x" * 50, VISITORSYNC_CRON_LOG="/var/log/vs crontab.log"
    )
    assert result.returncode == 0, result.stderr
    settings.CRONTAB_COMMAND_SUFFIX = result.stdout.strip()
    crontab_command("add")
    assert installed_line(crontab)["command"].endswith(">> '/var/log/vs crontab.log' 2>&1")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_installed_line_runs_a_real_sync(crontab, posthog_stub, settings, tmp_path):
    crontab_command("add")
    command = installed_line(crontab)["command"]
    # Absolute paths: cron starts in $HOME with a bare PATH and no virtualenv.
    assert command.startswith(f"{sys.executable} {ROOT / 'manage.py'} crontab run ")

    result = run_cron_line(command, cron_environment(posthog_stub, tmp_path))

    assert result.returncode == 0, result.stderr
    run = SyncRun.objects.get()
    assert (run.trigger, run.status) == (SyncRun.Trigger.CRONTAB, SyncRun.Status.SUCCEEDED)
    assert posthog_stub.query_count == 1
    current = weeks.current_week_start()
    assert stored_numbers() == expected(posthog_stub, settings, current - dt.timedelta(weeks=11))
    assert f"sync run={run.pk} trigger=crontab" in result.stderr  # the INFO line cron mails or logs


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_installed_line_records_and_logs_a_posthog_failure(crontab, posthog_stub, tmp_path):
    crontab_command("add")
    env = cron_environment(posthog_stub, tmp_path, POSTHOG_API_KEY="phx_wrong")

    result = run_cron_line(installed_line(crontab)["command"], env)

    run = SyncRun.objects.get()
    assert (run.trigger, run.status) == (SyncRun.Trigger.CRONTAB, SyncRun.Status.FAILED)
    assert "rejected the API key" in run.error
    assert "ERROR" in result.stderr and "rejected the API key" in result.stderr
    assert "Traceback" not in result.stderr
    assert WeeklyMetric.objects.count() == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_installed_line_logs_a_lock_conflict_once_without_a_traceback(crontab, posthog_stub, tmp_path):
    holder = SyncRun.objects.create(trigger=SyncRun.Trigger.CRON)
    crontab_command("add")

    result = run_cron_line(installed_line(crontab)["command"], cron_environment(posthog_stub, tmp_path))

    assert result.returncode == 0
    assert result.stderr.count("crontab sync skipped") == 1
    assert f"Sync #{holder.pk} (Cron endpoint)" in result.stderr
    assert "Traceback" not in result.stderr
    assert SyncRun.objects.count() == 1
    assert posthog_stub.query_count == 0


@pytest.fixture
def metrics_log(caplog):
    """Capture the `metrics` loggers (they propagate to the root logger caplog listens on)."""
    caplog.set_level(logging.INFO, logger="metrics")
    return caplog


@pytest.mark.django_db
def test_job_records_failures_and_does_not_raise(posthog_stub, metrics_log):
    posthog_stub.fail_next(404)
    crontab_jobs.sync_visitors_job()
    run = SyncRun.objects.get()
    assert (run.trigger, run.status) == (SyncRun.Trigger.CRONTAB, SyncRun.Status.FAILED)
    errors = [r for r in metrics_log.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "PostHog has no project" in errors[0].getMessage()


@pytest.mark.django_db
def test_job_refused_wipeout_is_recorded(posthog_stub, settings, metrics_log):
    settings.VISITORSYNC_EVENT = "$nothing"
    WeeklyMetric.objects.create(week_start=weeks.current_week_start(), visitors=7, pageviews=9)
    crontab_jobs.sync_visitors_job()
    assert SyncRun.objects.get().status == SyncRun.Status.FAILED
    assert any("Refusing to set 1 week(s)" in r.getMessage() for r in metrics_log.records)
    assert WeeklyMetric.objects.get().visitors == 7


def test_cronjobs_follow_the_schedule_setting():
    result = read_setting("CRONJOBS", SECRET_KEY="x" * 50, VISITORSYNC_CRON_SCHEDULE="*/30 * * * *")
    assert result.stdout.strip() == "[('*/30 * * * *', 'metrics.jobs.crontab.sync_visitors_job')]"
    assert settings.CRONJOBS == [
        (settings.VISITORSYNC_CRON_SCHEDULE, "metrics.jobs.crontab.sync_visitors_job")
    ]
    assert settings.CRONTAB_LOCK_JOBS is True


def test_add_without_a_crontab_program_fails_naming_what_to_install(settings, tmp_path):
    # Issue 20 #3: django-crontab printed "/bin/sh: 1: /usr/bin/crontab: not found" and exited 0.
    settings.CRONTAB_EXECUTABLE = str(tmp_path / "no-such-crontab")
    for subcommand in ("add", "show", "remove"):
        with pytest.raises(CommandError, match=r"No crontab program at .*apt-get install cron"):
            crontab_command(subcommand)


def test_add_fails_when_the_table_does_not_take_the_jobs(settings, tmp_path):
    # A crontab program that answers but keeps nothing (no permission to use cron, say).
    forgetful = tmp_path / "crontab"
    forgetful.write_text("#!/bin/sh\nexit 0\n")
    forgetful.chmod(forgetful.stat().st_mode | stat.S_IXUSR)
    settings.CRONTAB_EXECUTABLE = str(forgetful)
    with pytest.raises(CommandError, match=r"holds 0 of the \d+ visitorsync jobs"):
        crontab_command("add")


def test_add_with_a_working_crontab_passes_the_check(crontab):
    crontab_command("add")
    assert len([line for line in crontab.read_text().splitlines() if line.strip()]) == len(settings.CRONJOBS)
