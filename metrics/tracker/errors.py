"""Every error a door can meet from the tracker, in one family.

Each class says what happened by its type; a door maps types to answers in one place
(`metrics.presentation.http_status_for`) and never looks at `__cause__`. Each also derives
from the Python or Django type that gives it meaning elsewhere (a bad request is a
`ValueError`, missing settings are `ImproperlyConfigured`).
"""

from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist

if TYPE_CHECKING:
    from metrics.models import SyncRun


class TrackerError(Exception):
    """Base of the family; `str(err)` is a message for the person who runs the site.

    `run` is the SyncRun the error is about, given when the error is made: the run that was
    recorded as failed, or (for SyncInProgress) the run that holds the lock.
    """

    def __init__(self, message: str, *, run: "SyncRun | None" = None) -> None:
        super().__init__(message)
        self.run = run


class InvalidSyncRequest(TrackerError, ValueError):
    """The weeks asked for cannot be synced (a date in the future, too far back, ...); nothing ran."""


class UnknownWeek(InvalidSyncRequest, ObjectDoesNotExist):
    """No stored week has the id asked for; nothing ran."""


class NotConfigured(TrackerError, ImproperlyConfigured):
    """PostHog's settings are missing or unusable; nothing was sent to PostHog."""


class ConnectionTestFailed(TrackerError):
    """PostHog answered the connection test with an error (key, project, host, network)."""


class InvalidPageview(TrackerError, ValueError):
    """A pageview that cannot be counted as given (no visitor); nothing was written."""


class RecordingUnavailable(TrackerError):
    """The database could not record a pageview; nothing was written, a retry may work."""


class SyncError(TrackerError):
    """A sync did not complete."""


class SyncInProgress(SyncError):
    """Another sync holds the lock; `run` is that sync (None if it just finished)."""


class SyncFailed(SyncError):
    """The run was recorded as failed and no stored number changed; `run` is that run."""


class SyncNotConfigured(SyncFailed, NotConfigured):
    """The run failed before asking PostHog, because PostHog's settings are unusable."""


class DatabaseUnavailable(SyncFailed):
    """The database failed during the sync (dropped, locked); nothing changed, a retry may work."""


class WipeoutRefused(SyncFailed):
    """PostHog's answer would zero weeks that hold visitors; refused unless forced."""


class LockLost(SyncFailed):
    """The run was presumed dead and its lock released before it could write; it wrote nothing."""
