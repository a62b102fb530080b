"""The errors a door can meet when it sends a report."""

from django.core.exceptions import ImproperlyConfigured


class ReportError(Exception):
    """A report could not be built or sent; the message says what to do."""


class NoSuchWeek(ReportError):
    """The week asked for is not stored (or not a complete week)."""


class ReportNotConfigured(ReportError, ImproperlyConfigured):
    """Mail is not set up, or nobody is to receive the report."""


class ReportNotSent(ReportError):
    """The mail server refused or could not be reached; the unsent recipients are retried next time."""
