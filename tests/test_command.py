"""`manage.py sync_visitors`: each option, in-process and as a real process."""

import contextlib
import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from metrics.core import weeks
from metrics.models import SyncRun, WeeklyMetric
from tests.support.helpers import expected, stored_numbers

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("sync_visitors", *args, stdout=out)
    return out.getvalue()


def test_default_syncs_all_and_prints_progress_and_summary(posthog_stub):
    out = run_command()
    assert "Asking PostHog: 12/12 weeks" in out
    assert "Synced 12 weeks" in out and "12 created, 0 updated, 0 unchanged; 1 PostHog query" in out
    assert WeeklyMetric.objects.count() == 12
    assert SyncRun.objects.get().trigger == SyncRun.Trigger.COMMAND
    # The ten largest changes, not a line per week (issue 20 #19: a first sync's 53 lines).
    week_lines = [line for line in out.splitlines() if line.startswith("  week ")]
    assert len(week_lines) == 10 and all("new -> " in line for line in week_lines)
    run = SyncRun.objects.get()
    assert out.splitlines()[-1] == (
        f"  and 2 more weeks changed (see sync #{run.pk} in the admin's sync runs; -v 2 prints every week)"
    )


def test_verbosity_2_prints_every_changed_week(posthog_stub):
    out = run_command("-v", "2")
    assert sum(line.startswith("  week ") for line in out.splitlines()) == 12
    assert "more weeks changed" not in out


def test_week_option_syncs_the_week_of_a_date(posthog_stub):
    day = weeks.current_week_start() - dt.timedelta(weeks=2) + dt.timedelta(days=4)
    out = run_command("--week", day.isoformat())
    assert "Synced 1 weeks" in out
    assert list(WeeklyMetric.objects.values_list("week_start", flat=True)) == [weeks.week_start_for_date(day)]


def test_id_option(posthog_stub):
    metric = WeeklyMetric.objects.create(week_start=weeks.current_week_start())
    assert "Synced 1 weeks" in run_command("--id", str(metric.pk))
    with pytest.raises(CommandError, match="No stored week has id 999999"):
        run_command("--id", "999999")


def test_since_option_backfills(posthog_stub):
    since = weeks.current_week_start() - dt.timedelta(weeks=19)
    run_command("--since", since.isoformat())
    assert WeeklyMetric.objects.count() == 20


def test_dry_run_writes_nothing(posthog_stub):
    out = run_command("--dry-run")
    assert "Dry run, nothing written" in out
    assert WeeklyMetric.objects.count() == 0


def test_status_option(posthog_stub):
    run_command()
    out = run_command("--status")
    assert "PostHog: configured" in out
    assert "Weeks stored: 12" in out
    assert "Succeeded: 1  Failed: 0" in out


def test_status_lists_what_is_missing(settings):
    settings.POSTHOG_API_KEY = "phc_project"
    out = run_command("--status")
    assert "PostHog: not configured" in out and "personal API key" in out


def test_bad_date_is_a_command_error():
    with pytest.raises(CommandError, match="not a date"):
        run_command("--since", "last tuesday")


def test_posthog_failure_is_a_command_error_and_changes_nothing(posthog_stub, no_sleep):
    WeeklyMetric.objects.create(week_start=weeks.current_week_start(), visitors=3, pageviews=4)
    posthog_stub.fail_next(404)
    with pytest.raises(CommandError, match=r"Sync #\d+ failed: PostHog has no project"):
        run_command()
    assert list(WeeklyMetric.objects.values_list("visitors", "pageviews")) == [(3, 4)]


def test_lock_held_is_a_command_error(posthog_stub):
    holder = SyncRun.objects.create(trigger=SyncRun.Trigger.ADMIN, started_by="ana")
    with pytest.raises(CommandError, match="by ana") as caught:
        run_command()
    # Issue 10, finding 11: it said "Sync failed (recorded as sync #N)" with the other run's N.
    assert str(caught.value).startswith(f"Sync #{holder.pk} (Admin page, by ana) has been running since")
    assert "failed" not in str(caught.value) and "recorded" not in str(caught.value)
    assert SyncRun.objects.count() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_real_process_exits_nonzero_on_failure_and_zero_on_success(posthog_stub, settings):
    """Schedulers see the exit status of a separate process, over real HTTP to the stub."""
    from django.db import connection

    db_name = connection.settings_dict["NAME"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.support.settings",
        "POSTHOG_HOST": posthog_stub.url,
        "POSTHOG_API_KEY": "phx_wrong",
    }
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{db_name}"
    else:
        env["DATABASE_URL"] = (
            f"postgres://{connection.settings_dict['USER']}@{connection.settings_dict['HOST']}:"
            f"{connection.settings_dict['PORT']}/{db_name}"
        )
    command = [sys.executable, "manage.py", "sync_visitors"]
    failed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1
    assert "rejected the API key" in failed.stderr
    assert WeeklyMetric.objects.count() == 0

    env["POSTHOG_API_KEY"] = posthog_stub.api_key
    ok = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    current = weeks.current_week_start()
    stored = stored_numbers()
    assert stored == expected(posthog_stub, settings, current - dt.timedelta(weeks=11))
    assert any(numbers != (0, 0) for numbers in stored.values())


@pytest.mark.django_db
@pytest.mark.parametrize("command", [["sync_visitors", "--status"], ["send_weekly_report", "--dry-run"]])
def test_posthog_problems_are_printed_once_not_also_as_a_warning(settings, command):
    # Issue 20 #4: metrics.W001 printed the problems, then `--status` printed them again.
    settings.POSTHOG_API_KEY = ""
    out, err = io.StringIO(), io.StringIO()
    # The report may have no recipients (a CommandError): only the checks' output matters here.
    with contextlib.suppress(CommandError):
        call_command(*command, skip_checks=False, stdout=out, stderr=err)
    printed = out.getvalue() + err.getvalue()
    assert "metrics.W001" not in printed
    assert printed.count("POSTHOG_API_KEY is not set") == (1 if "--status" in command else 0)
    assert settings.SILENCED_SYSTEM_CHECKS == []  # restored for whatever runs next


def test_check_still_reports_the_posthog_warning(settings):
    settings.POSTHOG_API_KEY = ""
    out = io.StringIO()
    call_command("check", stdout=out, stderr=out)
    assert "metrics.W001" in out.getvalue()
