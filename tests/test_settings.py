"""Settings are parsed in a fresh interpreter, the way a deployment reads them; values the
app must not run with are system checks, checked here in-process."""

import ast

import pytest

from tests.support.checks import settings_errors
from tests.support.environment import manage_in_new_process, read_setting, run_python


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
    ("name", "value", "check_id", "message"),
    [
        (
            "VISITORSYNC_WEEK_START",
            "tuesday",
            "metrics.E005",
            "VISITORSYNC_WEEK_START must be 'monday' or 'sunday', not 'tuesday'.",
        ),
        (
            "VISITORSYNC_TIMEZONE",
            "Mars/Olympus",
            "metrics.E006",
            "VISITORSYNC_TIMEZONE='Mars/Olympus' is not an IANA time zone name (for example "
            "'Europe/Berlin' or 'America/New_York'). Use your PostHog project's time zone.",
        ),
        ("VISITORSYNC_CHUNK_WEEKS", 1000, "metrics.E007", "VISITORSYNC_CHUNK_WEEKS between 1 and 520"),
        ("VISITORSYNC_CHUNK_WEEKS", 0, "metrics.E007", "VISITORSYNC_CHUNK_WEEKS between 1 and 520"),
        ("VISITORSYNC_BACKFILL_WEEKS", 0, "metrics.E007", "VISITORSYNC_BACKFILL_WEEKS must be at least 1"),
    ],
)
def test_bad_week_settings_are_errors(settings, name, value, check_id, message):
    setattr(settings, name, value)
    [(found_id, found_message)] = settings_errors()
    assert found_id == check_id
    assert message in found_message


def test_the_default_settings_have_no_errors():
    assert settings_errors() == []


def test_a_bad_week_setting_is_read_as_given_for_the_check_to_report():
    result = read_setting("VISITORSYNC_WEEK_START", SECRET_KEY="x" * 50, VISITORSYNC_WEEK_START=" Tuesday ")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "tuesday"


def test_check_lists_every_bad_setting_at_once():
    result = manage_in_new_process(
        "check",
        SECRET_KEY="x" * 50,
        VISITORSYNC_WEEK_START="tuesday",
        VISITORSYNC_TIMEZONE="Mars/Olympus",
        DATABASE_CONNECT_TIMEOUT="0",
        VISITORSYNC_LOG_LEVEL="loud",
        VISITORSYNC_ALERT_DROP="50",
    )
    assert result.returncode != 0
    for check_id in ("metrics.E005", "metrics.E006", "metrics.E010", "metrics.E011", "metrics.E012"):
        assert check_id in result.stderr
    assert "VISITORSYNC_WEEK_START must be 'monday' or 'sunday', not 'tuesday'." in result.stderr


def test_the_web_server_refuses_to_serve_with_a_bad_setting():
    """gunicorn runs no system checks; loading the WSGI application runs the settings checks."""
    settings_load = read_setting("DEBUG", SECRET_KEY="x" * 50, VISITORSYNC_WEEK_START="tuesday")
    assert settings_load.returncode == 0, settings_load.stderr
    serving = run_python(
        "import visitorsync.wsgi", SECRET_KEY="x" * 50, VISITORSYNC_WEEK_START="tuesday", DJANGO_LOG_LEVEL="x"
    )
    assert serving.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured: " in serving.stderr
    assert (
        "(metrics.E005) VISITORSYNC_WEEK_START must be 'monday' or 'sunday', not 'tuesday'." in serving.stderr
    )
    assert "(metrics.E012) DJANGO_LOG_LEVEL must be one of" in serving.stderr
    serving = run_python("import visitorsync.wsgi", SECRET_KEY="x" * 50)
    assert serving.returncode == 0, serving.stderr


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


DATABASE_TIMEOUTS = ("metrics.E010", "Database timeouts are seconds: ")
ALERT_SETTINGS = ("metrics.E011", "VISITORSYNC_ALERT_DROP a share between 0 and 1")


@pytest.mark.parametrize(
    ("name", "value", "check_id", "says"),
    [
        ("DATABASE_CONNECT_TIMEOUT", 0, *DATABASE_TIMEOUTS),
        ("DATABASE_STATEMENT_TIMEOUT", -1.0, *DATABASE_TIMEOUTS),
        ("DATABASE_TCP_USER_TIMEOUT", -5.0, *DATABASE_TIMEOUTS),
        ("VISITORSYNC_WEBHOOK_DB_TIMEOUT", 0.0, *DATABASE_TIMEOUTS),
        ("VISITORSYNC_REQUEST_DB_TIMEOUT", 0.0, *DATABASE_TIMEOUTS),
        # An alert drop that is not a share, or a send timeout not above 0.
        ("VISITORSYNC_ALERT_DROP", 50.0, *ALERT_SETTINGS),
        ("VISITORSYNC_ALERT_DROP", 0.0, *ALERT_SETTINGS),
        ("VISITORSYNC_ALERT_DROP", 1.0, *ALERT_SETTINGS),
        ("EMAIL_TIMEOUT", 0.0, *ALERT_SETTINGS),
        ("VISITORSYNC_ALERT_WEBHOOK_TIMEOUT", -1.0, *ALERT_SETTINGS),
        ("VISITORSYNC_ALERT_QUIET_HOURS", 0.0, *ALERT_SETTINGS),
    ],
)
def test_impossible_timeouts_and_shares_are_errors(settings, name, value, check_id, says):
    setattr(settings, name, value)
    [(found_id, message)] = settings_errors()
    assert found_id == check_id
    assert says in message


@pytest.mark.parametrize("value", [0, -5])
def test_an_abandon_limit_that_is_not_positive_is_an_error(settings, value):
    """Zero would make the heartbeat spin and every claim abandon the running sync at once."""
    settings.VISITORSYNC_SYNC_ABANDON_AFTER = value
    assert settings_errors() == [
        (
            "metrics.E008",
            "VISITORSYNC_SYNC_ABANDON_AFTER must be a positive number of seconds (default 120), "
            f"not {value}.",
        )
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [("VISITORSYNC_WEBHOOK_MAX_BODY", 1023), ("VISITORSYNC_WEBHOOK_RETENTION_WEEKS", 0)],
)
def test_webhook_limits_out_of_range_are_errors(settings, name, value):
    setattr(settings, name, value)
    [(check_id, message)] = settings_errors()
    assert check_id == "metrics.E009"
    assert message.startswith("VISITORSYNC_WEBHOOK_MAX_BODY must be at least 1024 (bytes) and ")
