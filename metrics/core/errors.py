"""Every error visitorsync raises on purpose: one family under `VisitorsyncError`.

`str(err)` is a message for the person who runs the site, saying what to do. The type says
what happened: a door maps types to answers in one place (`metrics.presentation.http_status_for`)
and never looks at `__cause__`. Each class also derives from the Python or Django type that
gives it meaning elsewhere (in brackets below), as django-anymail's errors do. Where such an
error could escape a view, Django answers by that type: PermissionDenied 403, BadRequest and
SuspiciousOperation 400 (the latter also logged as a security event), the others 500.

    VisitorsyncError
    ├── TrackerError                   the tracker service; `run` is the SyncRun concerned
    │   ├── InvalidSyncRequest         [ValueError]
    │   │   └── UnknownWeek            [ObjectDoesNotExist]
    │   ├── NotConfigured              [ImproperlyConfigured]
    │   ├── ConnectionTestFailed
    │   ├── InvalidPageview            [ValueError]
    │   ├── RecordingUnavailable
    │   └── SyncError
    │       ├── SyncInProgress
    │       └── SyncFailed
    │           ├── SyncNotConfigured  (also NotConfigured)
    │           ├── DatabaseUnavailable
    │           ├── WipeoutRefused
    │           └── LockLost
    ├── PostHogError                   the PostHog client
    │   ├── PostHogNotConfigured       [ImproperlyConfigured]
    │   ├── PostHogAuthError
    │   ├── PostHogNotFound
    │   ├── PostHogQueryRejected
    │   ├── PostHogRateLimited
    │   ├── PostHogUnavailable
    │   ├── PostHogQueryTooHeavy
    │   └── PostHogBadResponse
    │       └── PostHogAnswerTooLarge
    ├── WebhookError                   refused PostHog webhook deliveries; `field` names the culprit
    │   ├── WebhookNotConfigured       [ImproperlyConfigured]
    │   ├── WebhookUnauthorized        [PermissionDenied]
    │   ├── WebhookTooLarge            [RequestDataTooBig, a SuspiciousOperation]
    │   ├── WebhookLengthRequired      [BadRequest]
    │   └── WebhookBadPayload          [ValueError]
    ├── ReportError                    reports and alerts
    │   ├── NoSuchWeek                 [ObjectDoesNotExist]
    │   ├── ReportNotConfigured        [ImproperlyConfigured]
    │   │   └── MailNotConfigured
    │   ├── ReportNotSent
    │   ├── MailTooSlow                [smtplib.SMTPException]
    │   └── WebhookNotSent
    ├── BadParameter                   [ValueError] the HTTP doors' query and form parameters
    │   └── UnreadableBody
    ├── ScheduleError                  [ValueError] VISITORSYNC_CRON_SCHEDULE
    └── InvalidMetricDefinition        [ValueError] a metric definition; `metric` and `field` name the culprit

Not every class has a standard type: a sync in progress or PostHog rate limiting means
nothing to Django. Failures of the database are deliberately not `django.db.DatabaseError`,
so the `except DatabaseError` that turns a driver's error into one of these never catches
its own result.
"""

import smtplib
from typing import TYPE_CHECKING

from django.core.exceptions import (
    BadRequest,
    ImproperlyConfigured,
    ObjectDoesNotExist,
    PermissionDenied,
    RequestDataTooBig,
)

if TYPE_CHECKING:
    from django.db.models import Model


class VisitorsyncError(Exception):
    """The root of every error visitorsync raises on purpose; `str(err)` says what to do."""


# --- The tracker (metrics.tracker) ------------------------------------------------------------
class TrackerError(VisitorsyncError):
    """A sync, a connection test or a pageview did not go through.

    `run` is the SyncRun (metrics.models; typed as a Model because the core does not import
    storage) the error is about, given when the error is made: the run that was recorded as
    failed, or (for SyncInProgress) the run that holds the lock.
    """

    def __init__(self, message: str, *, run: "Model | None" = None) -> None:
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


# --- The PostHog client (metrics.posthog) -----------------------------------------------------
class PostHogError(VisitorsyncError):
    """PostHog could not answer a query as asked; the tracker turns it into a SyncFailed."""


class PostHogNotConfigured(PostHogError, ImproperlyConfigured):
    """Settings are missing or unusable; nothing was sent."""


class PostHogAuthError(PostHogError):
    """PostHog rejected the API key (401/403)."""


class PostHogNotFound(PostHogError):
    """No such project at that host (404)."""


class PostHogQueryRejected(PostHogError):
    """PostHog refused the query itself (400): a bug or an unsupported PostHog version."""


class PostHogRateLimited(PostHogError):
    """Still throttled (429) after every retry."""


class PostHogUnavailable(PostHogError):
    """PostHog could not be reached or kept failing (5xx, timeouts, connection errors, answers
    that did not arrive within POSTHOG_QUERY_TIMEOUT)."""


class PostHogQueryTooHeavy(PostHogError):
    """PostHog will not run the query for this range (too slow, too much memory): asking again
    for the same range cannot help, a smaller range can."""


class PostHogBadResponse(PostHogError):
    """PostHog answered something this client cannot trust as complete and correct."""


class PostHogAnswerTooLarge(PostHogBadResponse):
    """The answer is larger than POSTHOG_MAX_ANSWER_BYTES; the client stopped reading it."""


# --- PostHog's webhook deliveries (metrics.posthog.destination) -------------------------------
class WebhookError(VisitorsyncError):
    """A delivery we refuse; `field` names the payload field at fault. One type per answer."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class WebhookNotConfigured(WebhookError, ImproperlyConfigured):
    """No usable secret in production: refuse everything until one is set."""


class WebhookUnauthorized(WebhookError, PermissionDenied):
    """No or a wrong secret or signature; the body was not parsed."""


class WebhookTooLarge(WebhookError, RequestDataTooBig):
    """The body is over VISITORSYNC_WEBHOOK_MAX_BODY."""


class WebhookLengthRequired(WebhookError, BadRequest):
    """A body without a Content-Length from a server that does not say where it ends."""


class WebhookBadPayload(WebhookError, ValueError):
    """The body is not a delivery we can read; the message names what is wrong."""


# --- Reports and alerts (metrics.reports) -----------------------------------------------------
class ReportError(VisitorsyncError):
    """A report or an alert could not be built or sent."""


class NoSuchWeek(ReportError, ObjectDoesNotExist):
    """The week asked for is not stored (or not a complete week)."""


class ReportNotConfigured(ReportError, ImproperlyConfigured):
    """Mail is not set up, or nobody is to receive the report."""


class MailNotConfigured(ReportNotConfigured):
    """EMAIL_URL is not set, so no report or alert mail can be sent; nothing was sent."""


class ReportNotSent(ReportError):
    """The mail server refused or could not be reached; the unsent recipients are retried next time."""


class MailTooSlow(ReportError, smtplib.SMTPException):
    """The mail server did not finish taking a message within EMAIL_TIMEOUT (the most one send
    may take), so visitorsync hung up; it fails like any mail server failure and is retried."""


class WebhookNotSent(ReportError):
    """The alert webhook URL refused the message or could not be reached; retried at the next check."""


# --- The HTTP doors' parameters (metrics.http) ------------------------------------------------
class BadParameter(VisitorsyncError, ValueError):
    """A request parameter that cannot be used; the message names it and what to send."""


class UnreadableBody(BadParameter):
    """A body in a format the endpoint does not read (it would be silently ignored)."""


# --- The sync schedule (metrics.core.schedule) ------------------------------------------------
class ScheduleError(VisitorsyncError, ValueError):
    """VISITORSYNC_CRON_SCHEDULE (or the expression given) is not a five-field cron expression."""


# --- Metric definitions (metrics.core.definitions, metrics.catalog) ---------------------------
class InvalidMetricDefinition(VisitorsyncError, ValueError):
    """A metric definition, or a file of them, that cannot be used; nothing of it was saved.

    `metric` names the metric (its key, or its place in the file, like "#3"), `field` the field at
    fault (like "properties[0].operator"), `detail` what is wrong and what to write instead.
    """

    def __init__(self, detail: str, *, metric: str = "(new)", field: str = "(metric)") -> None:
        super().__init__(f"Metric {metric}, field {field}: {detail}")
        self.metric = metric
        self.field = field
        self.detail = detail
