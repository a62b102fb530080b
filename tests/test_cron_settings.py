"""CRON_SECRET and the schedule: how they are read and what `manage.py check` says about them."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from tests.support.environment import read_setting


def test_missing_cron_secret_warns_on_deploy_check_only(settings, capsys):
    settings.CRON_SECRET = ""
    call_command("check")
    assert "metrics.W002" not in capsys.readouterr().err
    call_command("check", "--deploy")
    err = capsys.readouterr().err
    assert "metrics.W002" in err and "CRON_SECRET is not set" in err


def test_configured_cron_secret_passes_deploy_check(settings, capsys):
    settings.CRON_SECRET = "a-long-random-cron-secret"
    call_command("check", "--deploy")
    assert "metrics.W002" not in capsys.readouterr().err


def test_invalid_schedule_is_an_error(settings):
    settings.VISITORSYNC_CRON_SCHEDULE = "every six hours"
    with pytest.raises(SystemCheckError, match=r"metrics\.E001.*five-field cron expression"):
        call_command("check")


def test_cron_secret_starting_with_dollar_is_read_verbatim():
    result = read_setting("CRON_SECRET", SECRET_KEY="x" * 50, CRON_SECRET=" $ecret-one,$ecret-two ")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "$ecret-one,$ecret-two"


def test_cron_secret_has_no_default():
    result = read_setting("CRON_SECRET", SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
