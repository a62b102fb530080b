"""PostHog's Query API: the one package that talks HTTP to PostHog.

`client.py` holds the HTTP (a `requests.Session`, timeouts, retries, errors in words), with
the total time limit of one attempt from `metrics.core.attempt_deadline`, which hangs up on an
answer that trickles in; `query.py` the HogQL it sends and how the answer is read; `config.py` the
settings and what is wrong with them. The `PostHogError` family lives with every other error
in `metrics.core.errors` and is re-exported here. The tracker calls
`PostHogClient.weekly_counts` once per range of weeks it decides on.
"""

from metrics.core.errors import (
    PostHogAnswerTooLarge,
    PostHogAuthError,
    PostHogBadResponse,
    PostHogError,
    PostHogNotConfigured,
    PostHogNotFound,
    PostHogQueryRejected,
    PostHogQueryTooHeavy,
    PostHogRateLimited,
    PostHogUnavailable,
)
from metrics.posthog.client import ConnectionInfo, PostHogClient
from metrics.posthog.config import PostHogConfig
from metrics.posthog.query import ROW_LIMIT, QueriedMetric, WeekCount, WeeklyCounts, weekly_counts_query

__all__ = [
    "ROW_LIMIT",
    "ConnectionInfo",
    "PostHogAnswerTooLarge",
    "PostHogAuthError",
    "PostHogBadResponse",
    "PostHogClient",
    "PostHogConfig",
    "PostHogError",
    "PostHogNotConfigured",
    "PostHogNotFound",
    "PostHogQueryRejected",
    "PostHogQueryTooHeavy",
    "PostHogRateLimited",
    "PostHogUnavailable",
    "QueriedMetric",
    "WeekCount",
    "WeeklyCounts",
    "weekly_counts_query",
]
