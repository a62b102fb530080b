"""System checks: settings that are missing or unsafe, reported by `manage.py check`.

Warnings that only matter in production are tagged `deploy`, so `check --deploy` shows them.
Errors tagged `SETTINGS` are values the app must not run with (a wrong week start would count
every week wrong); `stop_on_settings_errors` raises them where no check runs.
"""

import zoneinfo

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from metrics.core import counting, schedule, secrets
from metrics.core.secrets import SECRET_SETTINGS, AuthMode, WebhookConfig
from metrics.posthog import PostHogConfig


@checks.register()
def posthog_settings(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """PostHog settings that stop syncing from working."""
    if settings.VISITORSYNC_WEEK_START not in WEEK_STARTS:
        return []  # PostHogConfig needs a week start: metrics.E005 says so, these follow its fix
    return [
        checks.Warning(
            problem, hint="See docs/connecting-posthog.md, 'The personal API key'.", id="metrics.W001"
        )
        for problem in PostHogConfig.from_settings().connection_problems()
    ]


@checks.register()
def counting_settings(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """What counts (events, hosts, test accounts) must be readable, or both paths count wrong."""
    return [
        checks.Error(problem, hint="See docs/configuration.md, 'What counts'.", id="metrics.E004")
        for problem in counting.problems()
    ]


@checks.register(checks.Tags.security, deploy=True)
def cron_secret(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Without CRON_SECRET the cron endpoint answers 503 (or, with DEBUG, runs for anyone)."""
    if secrets.cron_secrets():
        return []
    return [
        checks.Warning(
            "CRON_SECRET is not set: /api/cron/sync-visitors refuses every request (503), so "
            "a GitHub Actions workflow or platform cron that calls it cannot sync.",
            hint=(
                "Set CRON_SECRET to a long random string (python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))') and give the same value to the scheduler. "
                "See docs/scheduling.md."
            ),
            id="metrics.W002",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def webhook_secret(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Production needs a webhook secret, or the webhook refuses every delivery."""
    if WebhookConfig.from_settings().mode is not AuthMode.NONE:
        return []
    return [
        checks.Warning(
            f"No webhook secret: set {SECRET_SETTINGS}. Without one, /api/webhooks/posthog refuses "
            "every delivery (503) while DEBUG is off, and accepts anyone's while DEBUG is on.",
            hint="See docs/connecting-posthog.md, 'The HTTP Webhook destination'.",
            id="metrics.W003",
        )
    ]


@checks.register()
def cron_schedule(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """VISITORSYNC_CRON_SCHEDULE must be a cron expression: crontab and 'stale' both use it."""
    try:
        schedule.parse(settings.VISITORSYNC_CRON_SCHEDULE)
    except schedule.ScheduleError as err:
        return [
            checks.Error(
                f"VISITORSYNC_CRON_SCHEDULE: {err}.",
                hint="Use five cron fields, e.g. '0 */6 * * *' (every 6 hours).",
                id="metrics.E001",
            )
        ]
    return []


@checks.register()
def webhook_signing_secret(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """A malformed signing secret makes the webhook refuse everything: say so at startup."""
    return [
        checks.Error(
            problem, hint="See docs/connecting-posthog.md, 'The HTTP Webhook destination'.", id="metrics.E003"
        )
        for problem in WebhookConfig.from_settings().problems
    ]


# Below this, a busy database or a briefly paused process could make a live sync look dead.
SHORTEST_SAFE_ABANDON_AFTER = 30


@checks.register()
def abandon_after_is_long_enough(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """A live sync beats its heartbeat every sixth of the abandon limit; too short a limit
    would still expire live runs whose beats are delayed."""
    abandon_after = settings.VISITORSYNC_SYNC_ABANDON_AFTER
    if abandon_after >= SHORTEST_SAFE_ABANDON_AFTER or abandon_after < 1:
        return []  # long enough, or not a limit at all (metrics.E008)
    return [
        checks.Warning(
            f"VISITORSYNC_SYNC_ABANDON_AFTER ({abandon_after} s) is shorter than "
            f"{SHORTEST_SAFE_ABANDON_AFTER} s: a live sync whose heartbeat is delayed by a busy "
            "database would be presumed dead, and it would then stop without writing.",
            hint="Raise VISITORSYNC_SYNC_ABANDON_AFTER (default 120).",
            id="metrics.W004",
        )
    ]


@checks.register()
def renamed_settings(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Old setting names still work, but say so, so they are renamed before they stop working."""
    return [
        checks.Warning(
            f"{old} is deprecated: rename it to {new} (same meaning and value).",
            hint="See docs/configuration.md.",
            id="metrics.W005",
        )
        for old, new in settings.VISITORSYNC_RENAMED_SETTINGS.items()
    ]


@checks.register()
def report_settings(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Recipients without a mail server get nothing; links without a base URL are paths only."""
    found = []
    wanting = [
        name
        for name in ("VISITORSYNC_REPORT_RECIPIENTS", "VISITORSYNC_ALERT_RECIPIENTS")
        if getattr(settings, name)
    ]
    if wanting and not settings.EMAIL_CONFIGURED:
        found.append(
            checks.Warning(
                f"{' and '.join(wanting)} set but EMAIL_URL is not, so no report or alert mail is sent.",
                hint="Set EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587. "
                "See docs/reports-and-alerts.md.",
                id="metrics.W006",
            )
        )
    return found


# --- Values the app must not run with -------------------------------------------------------
# Each of these stopped the app when the settings were imported; as checks, `manage.py check`
# lists them all at once and a test can check a value in-process. They stay fatal: every
# `manage.py` command (migrate, sync_visitors, crontab run, db_worker) runs the checks first,
# and visitorsync/wsgi.py calls `stop_on_settings_errors` because gunicorn runs none.
SETTINGS = "settings"

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
