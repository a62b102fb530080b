"""System checks: settings that are missing or unsafe, reported by `manage.py check`.

Warnings that only matter in production are tagged `deploy`, so `check --deploy` shows them.
Errors tagged `SETTINGS` are values the app must not run with (a wrong week start would count
every week wrong); `stop_on_settings_errors` raises them where no check runs.
"""

from collections.abc import Iterable

from django.conf import settings
from django.core import checks

from metrics.core import counting, schedule, secrets
from metrics.core.secrets import SECRET_SETTINGS, AuthMode, WebhookConfig
from metrics.posthog import PostHogConfig

# Importing it registers the settings' own checks too.
from metrics.settings_checks import SHORTEST_SAFE_ABANDON_AFTER, WEEK_STARTS, Found, system_check


@system_check("metrics.W001", hint="See docs/connecting-posthog.md, 'The personal API key'.")
def posthog_settings() -> Found:
    """PostHog settings that stop syncing from working."""
    if settings.VISITORSYNC_WEEK_START not in WEEK_STARTS:
        return None  # PostHogConfig needs a week start: metrics.E005 says so, these follow its fix
    return PostHogConfig.from_settings().connection_problems()


@system_check("metrics.E004", hint="See docs/configuration.md, 'What counts'.")
def counting_settings() -> Found:
    """What counts (events, hosts, test accounts) must be readable, or both paths count wrong."""
    return counting.problems()


@system_check(
    "metrics.W002",
    hint=(
        "Set CRON_SECRET to a long random string (python -c 'import secrets; "
        "print(secrets.token_urlsafe(32))') and give the same value to the scheduler. "
        "See docs/scheduling.md."
    ),
    tags=(checks.Tags.security,),
    deploy=True,
)
def cron_secret() -> Found:
    """Without CRON_SECRET the cron endpoint answers 503 (or, with DEBUG, runs for anyone)."""
    if secrets.cron_secrets():
        return None
    return (
        "CRON_SECRET is not set: /api/cron/sync-visitors refuses every request (503), so "
        "a GitHub Actions workflow or platform cron that calls it cannot sync."
    )


@system_check(
    "metrics.W003",
    hint="See docs/connecting-posthog.md, 'The HTTP Webhook destination'.",
    tags=(checks.Tags.security,),
    deploy=True,
)
def webhook_secret() -> Found:
    """Production needs a webhook secret, or the webhook refuses every delivery."""
    if WebhookConfig.from_settings().mode is not AuthMode.NONE:
        return None
    return (
        f"No webhook secret: set {SECRET_SETTINGS}. Without one, /api/webhooks/posthog refuses "
        "every delivery (503) while DEBUG is off, and accepts anyone's while DEBUG is on."
    )


@system_check("metrics.E001", hint="Use five cron fields, e.g. '0 */6 * * *' (every 6 hours).")
def cron_schedule() -> Found:
    """VISITORSYNC_CRON_SCHEDULE must be a cron expression: crontab and 'stale' both use it."""
    try:
        schedule.parse(settings.VISITORSYNC_CRON_SCHEDULE)
    except schedule.ScheduleError as err:
        return f"VISITORSYNC_CRON_SCHEDULE: {err}."
    return None


@system_check("metrics.E003", hint="See docs/connecting-posthog.md, 'The HTTP Webhook destination'.")
def webhook_signing_secret() -> Found:
    """A malformed signing secret makes the webhook refuse everything: say so at startup."""
    return WebhookConfig.from_settings().problems


@system_check("metrics.W004", hint="Raise VISITORSYNC_SYNC_ABANDON_AFTER (default 120).")
def abandon_after_is_long_enough() -> Found:
    """A live sync beats its heartbeat every sixth of the abandon limit; too short a limit
    would still expire live runs whose beats are delayed."""
    abandon_after = settings.VISITORSYNC_SYNC_ABANDON_AFTER
    if abandon_after >= SHORTEST_SAFE_ABANDON_AFTER or abandon_after < 1:
        return None  # long enough, or not a limit at all (metrics.E008)
    return (
        f"VISITORSYNC_SYNC_ABANDON_AFTER ({abandon_after} s) is shorter than "
        f"{SHORTEST_SAFE_ABANDON_AFTER} s: a live sync whose heartbeat is delayed by a busy "
        "database would be presumed dead, and it would then stop without writing."
    )


@system_check("metrics.W005", hint="See docs/configuration.md.")
def renamed_settings() -> Found:
    """Old setting names still work, but say so, so they are renamed before they stop working."""
    return [
        f"{old} is deprecated: rename it to {new} (same meaning and value)."
        for old, new in settings.VISITORSYNC_RENAMED_SETTINGS.items()
    ]


@system_check(
    "metrics.W006",
    hint="Set EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587. See docs/reports-and-alerts.md.",
)
def report_settings() -> Found:
    """Recipients without a mail server get nothing."""
    wanting = [
        name
        for name in ("VISITORSYNC_REPORT_RECIPIENTS", "VISITORSYNC_ALERT_RECIPIENTS")
        if getattr(settings, name)
    ]
    if not wanting or settings.EMAIL_CONFIGURED:
        return None
    return f"{' and '.join(wanting)} set but EMAIL_URL is not, so no report or alert mail is sent."


# The command every secret hint gives: one fresh value per role.
NEW_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"  # noqa: S105 (a command)


@system_check(
    "metrics.W007",
    hint=(
        f"Replace it with a generated value ({NEW_SECRET}) and give the new one to whoever sends "
        "it (the PostHog destination, the scheduler, the API client). See docs/configuration.md, "
        "'Secrets'."
    ),
    tags=(checks.Tags.security,),
    deploy=True,
)
def weak_secrets() -> Found:
    """A secret a person chose must be one nobody can guess (the rule is secrets.is_weak)."""
    return [
        f"{secret.label} is shorter than {secrets.SHORTEST_STRONG_SECRET} characters or has fewer "
        f"than {secrets.FEWEST_DIFFERENT_CHARACTERS} different ones, so it can be guessed: whoever "
        f"does can {secret.role}."
        for secret in secrets.configured_secrets()
        if secret.chosen and secrets.is_weak(secret.value)
    ]


@system_check(
    "metrics.W008",
    hint=f"Give each role its own generated value ({NEW_SECRET}). See docs/configuration.md, 'Secrets'.",
    tags=(checks.Tags.security,),
    deploy=True,
)
def reused_secrets() -> Found:
    """One value in two roles lets whoever holds it for one door use the other."""
    by_value: dict[bytes, list[secrets.ConfiguredSecret]] = {}
    for secret in secrets.configured_secrets():
        by_value.setdefault(secret.value, []).append(secret)
    messages = []
    for holders in by_value.values():
        roles = list(dict.fromkeys(holder.role for holder in holders))
        if len(roles) > 1:
            messages.append(
                f"{_and(holder.label for holder in holders)} hold the same value, so whoever has "
                f"it can {_and(roles)}."
            )
    return messages


def _and(items: Iterable[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    words = list(items)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
