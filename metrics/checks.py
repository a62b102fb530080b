"""System checks: settings that are missing or unsafe, reported by `manage.py check`.

Warnings that only matter in production are tagged `deploy`, so `check --deploy` shows them.
"""

from django.core import checks

from metrics.posthog import PostHogConfig


@checks.register()
def posthog_settings(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """PostHog settings that stop syncing from working."""
    return [
        checks.Warning(problem, hint="See README.md, 'Creating the PostHog API key'.", id="metrics.W001")
        for problem in PostHogConfig.from_settings().problems()
    ]
