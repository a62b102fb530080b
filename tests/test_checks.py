import subprocess
import sys

import pytest
from django.core.management import call_command

from tests.support.environment import ROOT, clean_environment, read_setting


def test_missing_posthog_settings_are_reported(settings, capsys):
    settings.POSTHOG_API_KEY = ""
    call_command("check")
    assert "metrics.W001" in capsys.readouterr().err


def test_configured_posthog_passes(capsys):
    call_command("check")
    assert "metrics.W001" not in capsys.readouterr().err


def test_an_abandon_limit_too_short_for_late_heartbeats_is_reported(settings, capsys):
    settings.VISITORSYNC_SYNC_ABANDON_AFTER = 20
    call_command("check")
    assert "metrics.W004" in capsys.readouterr().err
    settings.VISITORSYNC_SYNC_ABANDON_AFTER = 30
    call_command("check")
    assert "metrics.W004" not in capsys.readouterr().err


@pytest.mark.parametrize("value", [0, -1])
def test_a_query_timeout_that_is_not_positive_is_reported(settings, capsys, value):
    settings.POSTHOG_QUERY_TIMEOUT = value
    call_command("check")
    err = capsys.readouterr().err
    assert "metrics.W001" in err and "POSTHOG_QUERY_TIMEOUT must be a number of seconds above 0" in err


@pytest.mark.slow
def test_the_old_abandon_setting_name_still_works_and_is_reported():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=clean_environment(SECRET_KEY="x" * 50, VISITORSYNC_SYNC_STALE_AFTER="600"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "metrics.W005" in result.stderr
    assert (
        "VISITORSYNC_SYNC_STALE_AFTER is deprecated: rename it to VISITORSYNC_SYNC_ABANDON_AFTER"
        in result.stderr
    )
    assert (
        read_setting(
            "VISITORSYNC_SYNC_ABANDON_AFTER", SECRET_KEY="x" * 50, VISITORSYNC_SYNC_STALE_AFTER="600"
        ).stdout.strip()
        == "600"
    )


@pytest.mark.slow
def test_the_new_abandon_setting_wins_and_is_not_reported():
    both = {"SECRET_KEY": "x" * 50, "VISITORSYNC_SYNC_ABANDON_AFTER": "300"}
    assert read_setting("VISITORSYNC_SYNC_ABANDON_AFTER", **both).stdout.strip() == "300"
    assert (
        read_setting(
            "VISITORSYNC_SYNC_ABANDON_AFTER", **both, VISITORSYNC_SYNC_STALE_AFTER="600"
        ).stdout.strip()
        == "300"
    )
    assert read_setting("VISITORSYNC_SYNC_ABANDON_AFTER", SECRET_KEY="x" * 50).stdout.strip() == "120"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=clean_environment(**both),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "metrics.W005" not in result.stderr
