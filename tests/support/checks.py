"""The settings checks, run in-process against the current (test-modified) settings."""

from django.core import checks

from metrics.settings_checks import SETTINGS


def settings_errors() -> list[tuple[str, str]]:
    """(id, message) of every error the `SETTINGS` checks report, in id order."""
    return sorted((m.id, m.msg) for m in checks.run_checks(tags=[SETTINGS]) if m.is_serious())
