"""System checks of the values the app must not run with (tag `settings`): a wrong week start,
time zone, limit or timeout. `manage.py check` lists them all at once; the WSGI and ASGI entry
points refuse to serve with any of them (`stop_on_settings_errors`), since gunicorn runs no checks."""

import functools
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email

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


Found = str | list[str] | None
"""What a check's finder returns: None (or an empty list) when all is well, else the message(s)."""


def system_check(
    check_id: str, *, hint: str | None = None, tags: tuple[str, ...] = (), deploy: bool = False
) -> Callable[[Callable[[], Found]], Callable[[], Found]]:
    """Register `find()` as Django system check `check_id`: each message it returns becomes an
    Error (`metrics.E…`) or a Warning (`metrics.W…`) with that id and `hint`. One id, one check."""
    level = checks.Error if check_id.startswith("metrics.E") else checks.Warning

    def register(find: Callable[[], Found]) -> Callable[[], Found]:
        # Not functools.wraps: Django reads the signature, which must take **kwargs.
        @checks.register(*tags, deploy=deploy)
        def run(app_configs, **kwargs) -> list[checks.CheckMessage]:
            found = find()
            messages = [found] if isinstance(found, str) else found or []
            return [level(message, hint=hint, id=check_id) for message in messages]

        return find

    return register


# The checks below are all tagged `SETTINGS`: `stop_on_settings_errors` runs them.
settings_check = functools.partial(system_check, tags=(SETTINGS,))


def stop_on_settings_errors() -> None:
    """Raise ImproperlyConfigured naming every `SETTINGS` error, for a server that runs no checks."""
    errors = [
        message
        for message in checks.run_checks(tags=[SETTINGS])
        if message.is_serious() and not message.is_silenced()
    ]
    if errors:
        raise ImproperlyConfigured("\n".join(str(error) for error in sorted(errors, key=str)))


@settings_check("metrics.E005", hint="Use your PostHog project's 'week starts on'.")
def week_start() -> Found:
    """Weeks must match PostHog's, or every number lands in the wrong week."""
    week_start = settings.VISITORSYNC_WEEK_START
    if week_start in WEEK_STARTS:
        return None
    return f"VISITORSYNC_WEEK_START must be 'monday' or 'sunday', not {week_start!r}."


@settings_check("metrics.E006")
def time_zone() -> Found:
    """Week boundaries follow this zone, as PostHog's follow the project's."""
    time_zone = settings.VISITORSYNC_TIMEZONE
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return (
            f"VISITORSYNC_TIMEZONE={time_zone!r} is not an IANA time zone name "
            "(for example 'Europe/Berlin' or 'America/New_York'). Use your PostHog project's "
            "time zone."
        )
    return None


@settings_check("metrics.E007", hint="Defaults: 12 and 52.")
def sync_weeks() -> Found:
    """A sync needs at least one week, and a query's answer must stay below PostHog's row limit."""
    if settings.VISITORSYNC_BACKFILL_WEEKS >= 1 and 1 <= settings.VISITORSYNC_CHUNK_WEEKS <= 520:
        return None
    return (
        "VISITORSYNC_BACKFILL_WEEKS must be at least 1 and VISITORSYNC_CHUNK_WEEKS between 1 and "
        "520 (a query's answer must stay below PostHog's row limit)."
    )


@settings_check(
    "metrics.E008", hint=f"Use the default, or at least {SHORTEST_SAFE_ABANDON_AFTER} (metrics.W004)."
)
def abandon_after_is_positive() -> Found:
    """Zero or less would make the heartbeat spin and every claim abandon the running sync."""
    abandon_after = settings.VISITORSYNC_SYNC_ABANDON_AFTER
    if abandon_after >= 1:
        return None
    return (
        f"VISITORSYNC_SYNC_ABANDON_AFTER must be a positive number of seconds (default 120), not "
        f"{abandon_after}."
    )


@settings_check("metrics.E009", hint="Defaults: 65536 and 8. " + CONFIGURATION_HINT)
def webhook_limits() -> Found:
    """Too small a body refuses every pageview; no retention week would count redeliveries twice."""
    if settings.VISITORSYNC_WEBHOOK_MAX_BODY >= 1024 and settings.VISITORSYNC_WEBHOOK_RETENTION_WEEKS >= 1:
        return None
    return (
        "VISITORSYNC_WEBHOOK_MAX_BODY must be at least 1024 (bytes) and "
        "VISITORSYNC_WEBHOOK_RETENTION_WEEKS at least 1."
    )


@settings_check(
    "metrics.E010", hint="Unset one for its default. See docs/configuration.md, 'Django and the database'."
)
def database_timeouts() -> Found:
    """Timeouts libpq or the app's database deadlines could not work with."""
    if (
        settings.DATABASE_CONNECT_TIMEOUT >= 1
        and settings.DATABASE_STATEMENT_TIMEOUT >= 0
        and settings.DATABASE_TCP_USER_TIMEOUT >= 0
        and settings.VISITORSYNC_WEBHOOK_DB_TIMEOUT > 0
        and settings.VISITORSYNC_REQUEST_DB_TIMEOUT > 0
    ):
        return None
    return (
        "Database timeouts are seconds: DATABASE_CONNECT_TIMEOUT at least 1, "
        "DATABASE_STATEMENT_TIMEOUT and DATABASE_TCP_USER_TIMEOUT at least 0 (0: no limit), "
        "VISITORSYNC_WEBHOOK_DB_TIMEOUT more than 0 (and below PostHog's 10 s), "
        "VISITORSYNC_REQUEST_DB_TIMEOUT more than 0."
    )


@settings_check("metrics.E011", hint="See docs/reports-and-alerts.md.")
def alert_settings() -> Found:
    """Timeouts of 0 fail every send; a drop that is not a share alerts always or never."""
    if (
        settings.EMAIL_TIMEOUT > 0
        and settings.VISITORSYNC_ALERT_WEBHOOK_TIMEOUT > 0
        and settings.VISITORSYNC_ALERT_QUIET_HOURS > 0
        and 0 < settings.VISITORSYNC_ALERT_DROP < 1
    ):
        return None
    return (
        "EMAIL_TIMEOUT, VISITORSYNC_ALERT_WEBHOOK_TIMEOUT and VISITORSYNC_ALERT_QUIET_HOURS must be "
        "above 0, and VISITORSYNC_ALERT_DROP a share between 0 and 1 (0.5: alert when visitors halve)."
    )


@settings_check("metrics.E015", hint="Separate addresses with commas. See docs/reports-and-alerts.md.")
def recipients() -> Found:
    """An address the mail code cannot use (a newline, no @) would fail every send to it."""
    found = []
    for name in ("VISITORSYNC_REPORT_RECIPIENTS", "VISITORSYNC_ALERT_RECIPIENTS"):
        for address in getattr(settings, name):
            try:
                validate_email(address)
            except ValidationError:
                found.append(f"{name} holds {address!r}, which is not an email address.")
    return found


@settings_check("metrics.E012")
def log_levels() -> Found:
    """An unknown level would otherwise log at INFO without saying so."""
    return [
        f"{name} must be one of {', '.join(LOG_LEVELS)}, not {level!r}."
        for name in ("VISITORSYNC_LOG_LEVEL", "DJANGO_LOG_LEVEL")
        if (level := getattr(settings, name)) not in LOG_LEVELS
    ]


@settings_check(
    "metrics.E013", hint="Unset it if your proxy does not set such a header. See docs/deploying.md."
)
def proxy_ssl_header() -> Found:
    """A malformed header would fail every request, or never see https behind the proxy."""
    header = settings.SECURE_PROXY_SSL_HEADER
    if header is None or (len(header) == 2 and str(header[0]).startswith("HTTP_")):
        return None
    return (
        "SECURE_PROXY_SSL_HEADER must be '<header>,<value>' with the header in Django's "
        "META form, for example 'HTTP_X_FORWARDED_PROTO,https', not "
        f"{','.join(map(str, header))!r}."
    )


@settings_check("metrics.E014", hint="Default: 16777216 (16 MiB). " + CONFIGURATION_HINT)
def posthog_answer_limit() -> Found:
    """A limit of 0 or less would refuse every answer PostHog gives."""
    limit = settings.POSTHOG_MAX_ANSWER_BYTES
    if limit >= 1:
        return None
    return (
        f"POSTHOG_MAX_ANSWER_BYTES must be a positive number of bytes, not {limit}: it is the most "
        "of one PostHog answer visitorsync reads, far above a real weekly answer."
    )
