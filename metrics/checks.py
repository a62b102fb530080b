"""System checks: settings that are missing or unsafe, reported by `manage.py check`.

Warnings that only matter in production are tagged `deploy`, so `check --deploy` shows them.
Errors tagged `SETTINGS` are values the app must not run with (a wrong week start would count
every week wrong); `stop_on_settings_errors` raises them where no check runs.
"""

from django.conf import settings
from django.core import checks

from metrics.core import counting, schedule, secrets
from metrics.core.secrets import SECRET_SETTINGS, AuthMode, WebhookConfig
from metrics.posthog import PostHogConfig

# Importing it registers the settings' own checks too.
from metrics.settings_checks import SHORTEST_SAFE_ABANDON_AFTER, WEEK_STARTS


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
