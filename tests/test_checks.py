import subprocess
import sys

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from metrics.settings_checks import stop_on_settings_errors
from tests.support.checks import settings_errors
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


def test_an_abandon_limit_that_is_no_limit_is_the_error_alone(settings):
    settings.VISITORSYNC_SYNC_ABANDON_AFTER = 0
    assert [check_id for check_id, _ in settings_errors()] == ["metrics.E008"]
    assert not [m for m in checks.run_checks() if m.id == "metrics.W004"]


def test_settings_errors_stop_the_check_command_in_process(settings):
    settings.VISITORSYNC_WEEK_START = "tuesday"
    settings.VISITORSYNC_TIMEZONE = "Mars/Olympus"
    with pytest.raises(SystemCheckError) as raised:
        call_command("check")
    assert "metrics.E005" in str(raised.value) and "metrics.E006" in str(raised.value)


def test_the_web_server_guard_raises_every_settings_error_in_process(settings):
    settings.VISITORSYNC_CHUNK_WEEKS = 0
    settings.VISITORSYNC_WEBHOOK_MAX_BODY = 10
    with pytest.raises(ImproperlyConfigured) as raised:
        stop_on_settings_errors()
    assert "(metrics.E007)" in str(raised.value) and "(metrics.E009)" in str(raised.value)
    settings.SILENCED_SYSTEM_CHECKS = ["metrics.E007", "metrics.E009"]
    stop_on_settings_errors()


@pytest.mark.parametrize(
    "header",
    [("X-Forwarded-Proto",), ("X_FORWARDED_PROTO", "https"), ("HTTP_X_FORWARDED_PROTO", "https", "x")],
)
def test_a_malformed_proxy_ssl_header_is_an_error(settings, header):
    settings.SECURE_PROXY_SSL_HEADER = header
    [(check_id, message)] = settings_errors()
    assert check_id == "metrics.E013"
    assert message.startswith(
        "SECURE_PROXY_SSL_HEADER must be '<header>,<value>' with the header in Django's"
    )
    assert f"not {','.join(header)!r}." in message
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert settings_errors() == []


def test_a_wrong_week_start_does_not_break_the_other_checks(settings):
    """PostHog's settings need a week start; E005 is reported instead of a crash."""
    settings.VISITORSYNC_WEEK_START = "tuesday"
    assert [m.id for m in checks.run_checks() if m.is_serious()] == ["metrics.E005"]


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
