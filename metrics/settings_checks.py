"""System checks of the values the app must not run with (tag `settings`): a wrong week start,
time zone, limit or timeout. `manage.py check` lists them all at once; the WSGI and ASGI entry
points refuse to serve with any of them (`stop_on_settings_errors`), since gunicorn runs no checks."""

import zoneinfo

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

# Each of these stopped the app when the settings were imported; as checks, `manage.py check`
# lists them all at once and a test can check a value in-process. They stay fatal: every
# `manage.py` command (migrate, sync_visitors, crontab run, db_worker) runs the checks first,
# and visitorsync/wsgi.py calls `stop_on_settings_errors` because gunicorn runs none.
SETTINGS = "settings"

# Below this, a busy database or a briefly paused process could make a live sync look dead.
SHORTEST_SAFE_ABANDON_AFTER = 30

WEEK_STARTS = ("monday", "sunday")
# The same names derived.py gives Django's logging (where an unknown one becomes INFO).
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
CONFIGURATION_HINT = "See docs/configuration.md."


def stop_on_settings_errors() -> None:
    """Raise ImproperlyConfigured naming every `SETTINGS` error, for a server that runs no checks."""
    errors = [
        message
        for message in checks.run_checks(tags=[SETTINGS])
        if message.is_serious() and not message.is_silenced()
    ]
    if errors:
        raise ImproperlyConfigured("\n".join(str(error) for error in sorted(errors, key=str)))


@checks.register(SETTINGS)
def week_settings(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Weeks must match PostHog's, or every number lands in the wrong week."""
    found = []
    week_start = settings.VISITORSYNC_WEEK_START
    if week_start not in WEEK_STARTS:
        found.append(
            checks.Error(
                f"VISITORSYNC_WEEK_START must be 'monday' or 'sunday', not {week_start!r}.",
                hint="Use your PostHog project's 'week starts on'.",
                id="metrics.E005",
            )
        )
    time_zone = settings.VISITORSYNC_TIMEZONE
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        found.append(
            checks.Error(
                f"VISITORSYNC_TIMEZONE={time_zone!r} is not an IANA time zone name "
                "(for example 'Europe/Berlin' or 'America/New_York'). Use your PostHog project's "
                "time zone.",
                id="metrics.E006",
            )
        )
    if settings.VISITORSYNC_BACKFILL_WEEKS < 1 or not 1 <= settings.VISITORSYNC_CHUNK_WEEKS <= 520:
        found.append(
            checks.Error(
                "VISITORSYNC_BACKFILL_WEEKS must be at least 1 and VISITORSYNC_CHUNK_WEEKS between 1 and "
                "520 (a query's answer must stay below PostHog's row limit).",
                hint="Defaults: 12 and 52.",
                id="metrics.E007",
            )
        )
    return found


@checks.register(SETTINGS)
def abandon_after_is_positive(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Zero or less would make the heartbeat spin and every claim abandon the running sync."""
    abandon_after = settings.VISITORSYNC_SYNC_ABANDON_AFTER
    if abandon_after >= 1:
        return []
    return [
        checks.Error(
            f"VISITORSYNC_SYNC_ABANDON_AFTER must be a positive number of seconds (default 120), not "
            f"{abandon_after}.",
            hint=f"Use the default, or at least {SHORTEST_SAFE_ABANDON_AFTER} (metrics.W004).",
            id="metrics.E008",
        )
    ]


@checks.register(SETTINGS)
def webhook_limits(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Too small a body refuses every pageview; no retention week would count redeliveries twice."""
    if settings.VISITORSYNC_WEBHOOK_MAX_BODY >= 1024 and settings.VISITORSYNC_WEBHOOK_RETENTION_WEEKS >= 1:
        return []
    return [
        checks.Error(
            "VISITORSYNC_WEBHOOK_MAX_BODY must be at least 1024 (bytes) and "
            "VISITORSYNC_WEBHOOK_RETENTION_WEEKS at least 1.",
            hint="Defaults: 65536 and 8. " + CONFIGURATION_HINT,
            id="metrics.E009",
        )
    ]


@checks.register(SETTINGS)
def database_timeouts(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Timeouts libpq or the webhook's deadline could not work with."""
    if (
        settings.DATABASE_CONNECT_TIMEOUT >= 1
        and settings.DATABASE_STATEMENT_TIMEOUT >= 0
        and settings.DATABASE_TCP_USER_TIMEOUT >= 0
        and settings.VISITORSYNC_WEBHOOK_DB_TIMEOUT > 0
    ):
        return []
    return [
        checks.Error(
            "Database timeouts are seconds: DATABASE_CONNECT_TIMEOUT at least 1, "
            "DATABASE_STATEMENT_TIMEOUT and DATABASE_TCP_USER_TIMEOUT at least 0 (0: no limit), "
            "VISITORSYNC_WEBHOOK_DB_TIMEOUT more than 0 (and below PostHog's 10 s).",
            hint="Unset one for its default. See docs/configuration.md, 'Django and the database'.",
            id="metrics.E010",
        )
    ]


@checks.register(SETTINGS)
def alert_settings(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Timeouts of 0 fail every send; a drop that is not a share alerts always or never."""
    if (
        settings.EMAIL_TIMEOUT > 0
        and settings.VISITORSYNC_ALERT_WEBHOOK_TIMEOUT > 0
        and settings.VISITORSYNC_ALERT_QUIET_HOURS > 0
        and 0 < settings.VISITORSYNC_ALERT_DROP < 1
    ):
        return []
    return [
        checks.Error(
            "EMAIL_TIMEOUT, VISITORSYNC_ALERT_WEBHOOK_TIMEOUT and VISITORSYNC_ALERT_QUIET_HOURS must be "
            "above 0, and VISITORSYNC_ALERT_DROP a share between 0 and 1 (0.5: alert when visitors halve).",
            hint="See docs/reports-and-alerts.md.",
            id="metrics.E011",
        )
    ]


@checks.register(SETTINGS)
def log_levels(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """An unknown level would otherwise log at INFO without saying so."""
    return [
        checks.Error(f"{name} must be one of {', '.join(LOG_LEVELS)}, not {level!r}.", id="metrics.E012")
        for name in ("VISITORSYNC_LOG_LEVEL", "DJANGO_LOG_LEVEL")
        if (level := getattr(settings, name)) not in LOG_LEVELS
    ]


@checks.register(SETTINGS)
def proxy_ssl_header(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """A malformed header would fail every request, or never see https behind the proxy."""
    header = settings.SECURE_PROXY_SSL_HEADER
    if header is None or (len(header) == 2 and str(header[0]).startswith("HTTP_")):
        return []
    return [
        checks.Error(
            "SECURE_PROXY_SSL_HEADER must be '<header>,<value>' with the header in Django's "
            "META form, for example 'HTTP_X_FORWARDED_PROTO,https', not "
            f"{','.join(map(str, header))!r}.",
            hint="Unset it if your proxy does not set such a header. See docs/deploying.md.",
            id="metrics.E013",
        )
    ]
