"""The PostHog Query API client: the one place that talks HTTP to PostHog.

It asks PostHog for the weekly unique visitors and pageviews of one range of weeks per
call, with one grouped HogQL query (the tracker decides the ranges), bounds each attempt in
all (`metrics.core.attempt_deadline`: the read timeout alone bounds only each read) and each
answer's size (POSTHOG_MAX_ANSWER_BYTES), retries what a retry can fix, and returns plain
dataclasses. Every error it raises is a `errors.PostHogError` whose message tells the user
what to do.
"""

import dataclasses
import datetime as dt
import email.utils
import logging
import random
import threading
import time
from collections.abc import Sequence
from typing import Any

import requests

from metrics.core import errors, weeks
from metrics.core.attempt_deadline import AttemptDeadline, DeadlineAdapter
from metrics.core.logsafe import loggable
from metrics.posthog.answers import error_for, json_object, retryable
from metrics.posthog.config import PostHogConfig
from metrics.posthog.query import QueriedMetric, WeeklyCounts, read_weekly_counts, weekly_counts_query

logger = logging.getLogger(__name__)

USER_AGENT = "visitorsync/1.0 (+https://github.com/visitorsync; Django)"
# What a failed transfer raises: no connection, a timeout, or an answer cut off (also when
# the attempt's deadline hangs up on it).
TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)

# Bytes read from an answer at a time: an answer over the size limit costs at most the limit
# and one chunk of memory.
ANSWER_CHUNK = 64 * 1024

# PostHog allows 3 concurrent queries per project, shared by the whole team: keep at most
# one in flight from this process (the sync lock keeps it to one across processes).
_in_flight = threading.Lock()


# The client's clock and its pause between attempts, looked up at each call rather than
# time.* directly: the tests' `no_sleep` fixture replaces both, so retries run without waiting.
def sleep_for(seconds: float) -> None:
    time.sleep(seconds)


def monotonic_now() -> float:
    return time.monotonic()


@dataclasses.dataclass(frozen=True)
class ConnectionInfo:
    """Result of a successful test query."""

    host: str
    project_id: str
    timezone: str | None
    elapsed: float


class PostHogClient:
    """Talks to PostHog's Query API as the settings say (read when it is made; tests change
    them with the `settings` fixture). Not thread-safe per instance; one per sync."""

    def __init__(self) -> None:
        self.config = PostHogConfig.from_settings()
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        for prefix in ("https://", "http://"):
            self.session.mount(prefix, DeadlineAdapter())
        self.queries = 0

    def ensure_configured(self) -> None:
        problems = self.config.problems()
        if problems:
            raise errors.PostHogNotConfigured("PostHog is not configured: " + " ".join(problems))

    def weekly_counts(
        self, *, first_week: dt.date, last_week: dt.date, metrics: Sequence[QueriedMetric] = ()
    ) -> WeeklyCounts:
        """PostHog's unique visitors and pageviews (and each of `metrics`) for every week from
        first through last.

        One query (with its retries). Raises a `PostHogError` unless the answer came back
        complete, so a caller never mistakes a partial answer for weeks with zero visitors.
        """
        self.ensure_configured()
        body = self._query(
            self.weekly_counts_query(first_week=first_week, last_week=last_week, metrics=metrics),
            name=f"visitorsync weekly counts {first_week:%Y-%m-%d}..{last_week:%Y-%m-%d}",
        )
        return read_weekly_counts(body, first_week=first_week, last_week=last_week, metrics=metrics)

    def weekly_counts_query(
        self, *, first_week: dt.date, last_week: dt.date, metrics: Sequence[QueriedMetric] = ()
    ) -> dict[str, Any]:
        """The `HogQLQuery` `weekly_counts` sends for these weeks (the admin shows it)."""
        start, _ = weeks.week_bounds(first_week)
        _, end = weeks.week_bounds(last_week)
        return weekly_counts_query(
            week_mode=self.config.week_mode,
            tz_name=self.config.timezone,
            events=self.config.events,
            hosts=self.config.hosts,
            filter_test_accounts=self.config.filter_test_accounts,
            start=start,
            end=end,
            metrics=metrics,
        )

    def test_connection(self) -> ConnectionInfo:
        """Spend one trivial query to check host, project and key."""
        self.ensure_configured()
        started = monotonic_now()
        body = self._query({"kind": "HogQLQuery", "query": "SELECT 1"}, name="visitorsync connection test")
        return ConnectionInfo(
            host=self.config.host,
            project_id=self.config.project_id,
            timezone=body.get("timezone") if isinstance(body.get("timezone"), str) else None,
            elapsed=monotonic_now() - started,
        )

    # --- internals ----------------------------------------------------------------------
    def _query(self, query: dict[str, Any], *, name: str) -> dict[str, Any]:
        payload: dict[str, Any] = {"query": query, "name": name, "refresh": "force_blocking"}
        headers = {
            "Authorization": f"Bearer {self.config.api_key}",
            "Accept": "application/json",
        }
        deadline = monotonic_now() + self.config.retry_deadline
        attempt = 0
        while True:
            attempt += 1
            with _in_flight:
                # The read timeout bounds each read; this bounds the attempt, so an answer
                # that trickles in cannot hold the sync (and its lock) past every limit.
                attempt_deadline = AttemptDeadline(self.config.query_timeout)
                try:
                    self.queries += 1
                    with attempt_deadline:
                        response = self.session.post(
                            self.config.query_url,
                            json=payload,
                            headers=headers,
                            timeout=(self.config.connect_timeout, self.config.read_timeout),
                            allow_redirects=False,
                            stream=True,  # read by `_read_answer`, within the size limit
                        )
                        self._read_answer(response)
                except TRANSPORT_ERRORS as err:
                    # Retried like a read timeout: a slow link may recover, and the retry
                    # deadline still bounds the whole query.
                    failure: errors.PostHogError = (
                        self._too_slow() if attempt_deadline.expired else self._unreachable(err)
                    )
                    failure.__cause__ = err
                    wait = self._backoff(attempt)
                else:
                    if attempt_deadline.expired:
                        # Hung up on at the deadline: an answer with no length of its own ends
                        # there and looks whole, but it is cut short. Retried like a timeout.
                        failure = self._too_slow()
                        wait = self._backoff(attempt)
                    elif 200 <= response.status_code < 300:
                        return json_object(response)
                    else:
                        failure = error_for(response, config=self.config)
                        if not retryable(response):
                            raise failure
                        wait = self._retry_after(response) or self._backoff(attempt)
            if attempt >= self.config.max_attempts or monotonic_now() + wait > deadline:
                logger.warning(
                    "PostHog query %r failed after %d attempts: %s", name, attempt, loggable(failure)
                )
                raise failure
            logger.info(
                "PostHog query %r attempt %d failed (%s); retrying in %.1fs",
                name,
                attempt,
                loggable(failure),
                wait,
            )
            sleep_for(wait)

    def _read_answer(self, response: requests.Response) -> None:
        """Read the body of a streamed answer into `response` (so `.json()` and `.text` work),
        or raise PostHogAnswerTooLarge without reading more than the limit and one chunk.

        A declared Content-Length over the limit is refused before any of the body is read. The
        connection is closed unless the whole answer was read (then it goes back to the pool).
        """
        limit = self.config.max_answer_bytes
        try:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise self._too_large(f"it announced {int(declared):,} bytes")
            body = bytearray()
            for chunk in response.iter_content(chunk_size=ANSWER_CHUNK):
                body += chunk
                if len(body) > limit:
                    raise self._too_large("it sent more")
            # requests keeps the body it read here; streaming only changed when it is read.
            response._content = bytes(body)
        finally:
            response.close()

    def _too_large(self, how: str) -> errors.PostHogAnswerTooLarge:
        return errors.PostHogAnswerTooLarge(
            f"PostHog's answer is larger than POSTHOG_MAX_ANSWER_BYTES "
            f"({self.config.max_answer_bytes:,} bytes; {how}), so visitorsync stopped reading it and "
            "stored nothing. A weekly answer is a few kilobytes: check that POSTHOG_HOST is "
            f"PostHog's app host ({self.config.host} now) and that no proxy between this server "
            "and PostHog answers in its place."
        )

    def _unreachable(self, err: Exception) -> errors.PostHogUnavailable:
        return errors.PostHogUnavailable(
            f"Could not reach PostHog at {self.config.host} "
            f"({type(err).__name__}). Check POSTHOG_HOST and the network."
        )

    def _too_slow(self) -> errors.PostHogUnavailable:
        return errors.PostHogUnavailable(
            f"PostHog answered too slowly: its answer was not complete after "
            f"{self.config.query_timeout:g} s (POSTHOG_QUERY_TIMEOUT, the most one attempt may "
            f"take), so visitorsync hung up. Check the network and any proxy between this "
            f"server and {self.config.host}; if PostHog itself is this slow, raise "
            "POSTHOG_QUERY_TIMEOUT."
        )

    def _backoff(self, attempt: int) -> float:
        # Exponential backoff with full jitter, so clients that failed together do not
        # come back together.
        ceiling = min(self.config.retry_after_cap, 2.0**attempt)
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography

    def _retry_after(self, response: requests.Response) -> float | None:
        value = response.headers.get("Retry-After")
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            # An HTTP date instead of seconds. A header we cannot read is no reason to fail
            # the sync: fall back to our own backoff.
            try:
                parsed = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            if parsed.tzinfo is None:  # "-0000" means UTC with no stated zone
                parsed = parsed.replace(tzinfo=dt.UTC)
            seconds = (parsed - dt.datetime.now(dt.UTC)).total_seconds()
        if seconds != seconds:  # NaN
            return None
        return max(0.0, min(seconds, self.config.retry_after_cap))
