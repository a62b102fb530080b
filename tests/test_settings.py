"""Settings are parsed in a fresh interpreter, the way a deployment reads them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def clean_environment(**env: str) -> dict[str, str]:
    """This process's environment without visitorsync's settings, plus `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VISITORSYNC_", "POSTHOG_"))}
    clean.pop("DATABASE_URL", None)
    clean.update({"VISITORSYNC_ENV_FILE": "", "DJANGO_SETTINGS_MODULE": "visitorsync.settings"})
    clean.update(env)
    return clean


def read_setting(name: str, **env: str) -> subprocess.CompletedProcess:
    code = f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_event_defaults_to_pageview_despite_dollar_sign():
    result = read_setting("VISITORSYNC_EVENT", SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "$pageview"


def test_event_from_environment_keeps_dollar_sign():
    result = read_setting("VISITORSYNC_EVENT", SECRET_KEY="x" * 50, VISITORSYNC_EVENT="$screen")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "$screen"


def test_missing_secret_key_fails_closed_with_a_fix():
    result = read_setting("SECRET_KEY", DEBUG="false", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "secrets.token_urlsafe" in result.stderr


def test_debug_allows_a_development_secret_key():
    result = read_setting("SECRET_KEY", DEBUG="true", SECRET_KEY="")
    assert result.returncode == 0, result.stderr
    assert "insecure" in result.stdout


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("VISITORSYNC_WEEK_START", "tuesday", "must be 'monday' or 'sunday'"),
        ("VISITORSYNC_TIMEZONE", "Mars/Olympus", "not an IANA time zone"),
        ("VISITORSYNC_CHUNK_WEEKS", "1000", "between 1 and 520"),
    ],
)
def test_bad_week_settings_are_refused(name, value, message):
    result = read_setting(name, SECRET_KEY="x" * 50, **{name: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_sqlite_is_the_default_and_set_up_for_concurrency():
    result = read_setting("DATABASES['default']", SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr
    assert "sqlite3" in result.stdout
    assert "'transaction_mode': 'IMMEDIATE'" in result.stdout
    assert "journal_mode=WAL" in result.stdout


def test_env_file_is_read(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("SECRET_KEY=" + "f" * 50 + "\nPOSTHOG_PROJECT_ID=777\n")
    result = read_setting("POSTHOG_PROJECT_ID", VISITORSYNC_ENV_FILE=str(env_file))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "777"
