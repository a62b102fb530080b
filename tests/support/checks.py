"""The system checks, run in-process against the current (test-modified) settings."""

from django.core import checks

from metrics.settings_checks import SETTINGS


def settings_errors() -> list[tuple[str, str]]:
    """(id, message) of every error the `SETTINGS` checks report, in id order."""
    return sorted((m.id, m.msg) for m in checks.run_checks(tags=[SETTINGS]) if m.is_serious())


def deploy_messages(check_id: str) -> list[str]:
    """Message and hint of each finding of `check_id`, as `manage.py check --deploy` shows it."""
    return [
        f"{m.msg}\nHINT: {m.hint}"
        for m in checks.run_checks(include_deployment_checks=True)
        if m.id == check_id
    ]
