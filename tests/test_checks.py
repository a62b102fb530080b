from django.core.management import call_command


def test_missing_posthog_settings_are_reported(settings, capsys):
    settings.POSTHOG_API_KEY = ""
    call_command("check")
    assert "metrics.W001" in capsys.readouterr().err


def test_configured_posthog_passes(capsys):
    call_command("check")
    assert "metrics.W001" not in capsys.readouterr().err
