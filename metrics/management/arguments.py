"""What the management commands share: reading their arguments (dates, JSON files), and which
checks they print."""

import datetime as dt
import json
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

# "PostHog settings that stop syncing from working" (metrics/checks.py).
POSTHOG_WARNING = "metrics.W001"


class WithoutPostHogWarning(BaseCommand):
    """A command that runs every system check but metrics.W001: it says itself what PostHog
    lacks (sync_visitors: its error, `--status`), or does not use PostHog (the report).
    Otherwise the same problems were printed twice, as a warning and then as the answer."""

    def check(self, *args, **kwargs) -> None:
        # is_silenced() reads the setting for each message; this process runs one command.
        silenced = settings.SILENCED_SYSTEM_CHECKS
        settings.SILENCED_SYSTEM_CHECKS = [*silenced, POSTHOG_WARNING]
        try:
            super().check(*args, **kwargs)
        finally:
            settings.SILENCED_SYSTEM_CHECKS = silenced


def date_argument(value: str) -> dt.date:
    """A `YYYY-MM-DD` argument, or a CommandError saying how to write it."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date; use YYYY-MM-DD.") from None


def json_file_argument(path: str) -> Any:
    """The JSON document in the file `path` ('-': standard input), or a CommandError saying why not."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as file:
                text = file.read()
    except (OSError, UnicodeDecodeError) as err:
        raise CommandError(f"Cannot read {path}: {err}") from None
    try:
        return json.loads(text)
    except ValueError as err:
        raise CommandError(f"{path} is not JSON: {err}") from None
