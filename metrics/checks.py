"""System checks: settings that are missing or unsafe, reported by `manage.py check`.

Warnings that only matter in production are tagged `deploy`, so `check --deploy` shows them.
"""

from django.core import checks

from metrics.posthog import PostHogConfig
from metrics.webhook import SECRET_SETTINGS, AuthMode, WebhookConfig


@checks.register()
def posthog_settings(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """PostHog settings that stop syncing from working."""
    return [
        checks.Warning(problem, hint="See README.md, 'Creating the PostHog API key'.", id="metrics.W001")
        for problem in PostHogConfig.from_settings().problems()
    ]


@checks.register(deploy=True)
def webhook_secret(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Production needs a webhook secret, or the webhook refuses every delivery."""
    if WebhookConfig.from_settings().mode is not AuthMode.NONE:
        return []
    return [
        checks.Warning(
            f"No webhook secret: set {SECRET_SETTINGS}. Without one, /api/webhooks/posthog refuses "
            "every delivery (503) while DEBUG is off, and accepts anyone's while DEBUG is on.",
            hint="See README.md, 'Real-time webhook'.",
            id="metrics.W002",
        )
    ]


@checks.register()
def webhook_signing_secret(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """A malformed signing secret makes the webhook refuse everything: say so at startup."""
    return [
        checks.Error(problem, hint="See README.md, 'Real-time webhook'.", id="metrics.E003")
        for problem in WebhookConfig.from_settings().problems
    ]
