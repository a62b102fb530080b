"""Settings are parsed in a fresh interpreter, the way a deployment reads them."""

import ast

import pytest

from tests.support.environment import read_setting


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


def postgres_options(url: str = "postgres://u:p@db.example.com:5432/d", **env: str) -> dict:
    result = read_setting("DATABASES['default']['OPTIONS']", SECRET_KEY="x" * 50, DATABASE_URL=url, **env)
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip())


def test_postgres_connections_get_connect_keepalive_tcp_and_statement_timeouts():
    assert postgres_options() == {
        "connect_timeout": 5,
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
        "tcp_user_timeout": 10_000,
        "options": "-c statement_timeout=30000",
    }


def test_database_timeouts_are_settings():
    options = postgres_options(
        DATABASE_CONNECT_TIMEOUT="3", DATABASE_STATEMENT_TIMEOUT="120", DATABASE_TCP_USER_TIMEOUT="0"
    )
    assert (options["connect_timeout"], options["tcp_user_timeout"]) == (3, 0)
    assert options["options"] == "-c statement_timeout=120000"
    assert "options" not in postgres_options(DATABASE_STATEMENT_TIMEOUT="0")


def test_values_in_the_database_urls_query_string_win():
    url = "postgres://u:p@db.example.com:5432/d?connect_timeout=11&keepalives_idle=60&options=-c%20search_path%3Dx"
    options = postgres_options(url)
    assert (options["connect_timeout"], options["keepalives_idle"]) == (11, 60)
    assert options["options"] == "-c search_path=x -c statement_timeout=30000"
    url = "postgres://u:p@db.example.com:5432/d?options=-c%20statement_timeout%3D0"
    assert postgres_options(url)["options"] == "-c statement_timeout=0"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_CONNECT_TIMEOUT", "0"),
        ("DATABASE_STATEMENT_TIMEOUT", "-1"),
        ("DATABASE_TCP_USER_TIMEOUT", "-5"),
        ("VISITORSYNC_WEBHOOK_DB_TIMEOUT", "0"),
    ],
)
def test_impossible_database_timeouts_are_refused(name, value):
    result = read_setting("DATABASES", SECRET_KEY="x" * 50, **{name: value})
    assert result.returncode != 0
    assert "Database timeouts are seconds: " in result.stderr


@pytest.mark.parametrize("value", ["0", "-5"])
def test_an_abandon_limit_that_is_not_positive_refuses_to_start(value):
    """Zero would make the heartbeat spin and every claim abandon the running sync at once."""
    result = read_setting(
        "VISITORSYNC_SYNC_ABANDON_AFTER", SECRET_KEY="x" * 50, VISITORSYNC_SYNC_ABANDON_AFTER=value
    )
    assert result.returncode != 0
    assert (
        f"VISITORSYNC_SYNC_ABANDON_AFTER must be a positive number of seconds (default 120), not {value}."
        in result.stderr
    )
