"""What the management commands share: reading their arguments (dates, JSON files)."""

import datetime as dt
import json
import sys
from typing import Any

from django.core.management.base import CommandError


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
