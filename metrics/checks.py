"""System checks: settings that are missing or unsafe, reported by `manage.py check`.

Warnings that only matter in production are tagged `deploy`, so `check --deploy` shows them.
"""

from django.conf import settings
from django.core import checks

from metrics import schedule
from metrics.auth import parse_secrets
from metrics.posthog import PostHogConfig
from metrics.webhook import SECRET_SETTINGS, AuthMode, WebhookConfig


@checks.register()
def posthog_settings(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """PostHog settings that stop syncing from working."""
    return [
        checks.Warning(problem, hint="See README.md, 'Creating the PostHog API key'.", id="metrics.W001")
        for problem in PostHogConfig.from_settings().problems()
    ]


@checks.register(checks.Tags.security, deploy=True)
def cron_secret(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Without CRON_SECRET the cron endpoint answers 503 (or, with DEBUG, runs for anyone)."""
    if parse_secrets(settings.CRON_SECRET):
        return []
    return [
        checks.Warning(
            "CRON_SECRET is not set: /api/cron/sync-visitors refuses every request (503), so "
            "a GitHub Actions workflow or platform cron that calls it cannot sync.",
            hint=(
                "Set CRON_SECRET to a long random string (python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))') and give the same value to the scheduler. "
                "See README.md, 'Scheduling'."
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
            hint="See README.md, 'Real-time webhook'.",
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
        checks.Error(problem, hint="See README.md, 'Real-time webhook'.", id="metrics.E003")
        for problem in WebhookConfig.from_settings().problems
    ]


@checks.register()
def stale_after_outlasts_a_query(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """A run reports progress once per query; a shorter stale limit would expire live runs."""
    stale_after = settings.VISITORSYNC_SYNC_STALE_AFTER
    longest_query = (
        settings.POSTHOG_RETRY_DEADLINE + settings.POSTHOG_CONNECT_TIMEOUT + settings.POSTHOG_READ_TIMEOUT
    )
    if stale_after > longest_query:
        return []
    return [
        checks.Warning(
            f"VISITORSYNC_SYNC_STALE_AFTER ({stale_after} s) is not longer than one PostHog query "
            f"may take with its retries ({longest_query:.0f} s): a sync that is only waiting on "
            "PostHog would be presumed dead, and it would then stop without writing.",
            hint="Raise VISITORSYNC_SYNC_STALE_AFTER (default 900) or lower POSTHOG_RETRY_DEADLINE.",
            id="metrics.W004",
        )
    ]
