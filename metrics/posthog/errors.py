"""Every error the PostHog client raises: a `PostHogError`, whose message tells the user what to do."""

from django.core.exceptions import ImproperlyConfigured


class PostHogError(Exception):
    """Base class; `str(err)` is a message for the person who runs the site."""


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
