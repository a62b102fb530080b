"""What the management commands share: reading their arguments."""

import datetime as dt

from django.core.management.base import CommandError


def date_argument(value: str) -> dt.date:
    """A `YYYY-MM-DD` argument, or a CommandError saying how to write it."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date; use YYYY-MM-DD.") from None
