from django.core.management import call_command


def test_missing_posthog_settings_are_reported(settings, capsys):
    settings.POSTHOG_API_KEY = ""
    call_command("check")
    assert "metrics.W001" in capsys.readouterr().err


def test_configured_posthog_passes(capsys):
    call_command("check")
    assert "metrics.W001" not in capsys.readouterr().err


def test_stale_limit_shorter_than_a_query_is_reported(settings, capsys):
    settings.VISITORSYNC_SYNC_ABANDON_AFTER = 60
    settings.POSTHOG_RETRY_DEADLINE = 120
    call_command("check")
    assert "metrics.W004" in capsys.readouterr().err
    settings.VISITORSYNC_SYNC_ABANDON_AFTER = 900
    call_command("check")
    assert "metrics.W004" not in capsys.readouterr().err
