"""PostHog Query API client: the one module that talks HTTP to PostHog.

It asks PostHog for the weekly unique visitors and pageviews of one range of weeks per
call, with one grouped HogQL query (the tracker decides the ranges), retries what a retry
can fix, and returns plain dataclasses. Every error
it raises is a `PostHogError` whose message tells the user what to do.
"""

import dataclasses
import datetime as dt
import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from metrics import weeks

logger = logging.getLogger(__name__)

USER_AGENT = "visitorsync/1.0 (+https://github.com/visitorsync; Django)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# PostHog answers at most 100 rows without a LIMIT, and at most 50,000 with one.
ROW_LIMIT = 1000

# PostHog allows 3 concurrent queries per project, shared by the whole team: keep at most
# one in flight from this process (the sync lock keeps it to one across processes).
_in_flight = threading.Lock()


# Module functions rather than time.* directly, so tests can replace the passage of time.
def sleep_for(seconds: float) -> None:
    time.sleep(seconds)


def monotonic_now() -> float:
    return time.monotonic()


# --- Errors --------------------------------------------------------------------------------
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
    """PostHog could not be reached or kept failing (5xx, timeouts, connection errors)."""


class PostHogBadResponse(PostHogError):
    """PostHog answered something this client cannot trust as complete and correct."""


# --- Plain data ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class WeekCount:
    week_start: dt.date
    visitors: int
    pageviews: int


@dataclasses.dataclass(frozen=True)
class WeeklyCounts:
    """PostHog's numbers for every week of a range; a week absent from `counts` is zero."""

    first_week: dt.date
    last_week: dt.date
    counts: dict[dt.date, WeekCount]

    def for_week(self, week_start: dt.date) -> WeekCount:
        return self.counts.get(week_start, WeekCount(week_start, 0, 0))


@dataclasses.dataclass(frozen=True)
class ConnectionInfo:
    """Result of a successful test query."""

    host: str
    project_id: str
    timezone: str | None
    elapsed: float


@dataclasses.dataclass(frozen=True)
class PostHogConfig:
    host: str
    project_id: str
    api_key: str
    event: str
    timezone: str
    week_mode: int
    connect_timeout: float
    read_timeout: float
    max_attempts: int
    retry_deadline: float
    retry_after_cap: float

    @classmethod
    def from_settings(cls) -> "PostHogConfig":
        return cls(
            host=settings.POSTHOG_HOST.rstrip("/"),
            project_id=str(settings.POSTHOG_PROJECT_ID).strip(),
            api_key=settings.POSTHOG_API_KEY.strip(),
            event=settings.VISITORSYNC_EVENT,
            timezone=settings.VISITORSYNC_TIMEZONE,
            week_mode=weeks.hogql_week_mode(),
            connect_timeout=settings.POSTHOG_CONNECT_TIMEOUT,
            read_timeout=settings.POSTHOG_READ_TIMEOUT,
            max_attempts=max(1, settings.POSTHOG_MAX_ATTEMPTS),
            retry_deadline=settings.POSTHOG_RETRY_DEADLINE,
            retry_after_cap=settings.POSTHOG_RETRY_AFTER_CAP,
        )

    def problems(self) -> list[str]:
        """What stops this configuration from working, in words a user can act on."""
        found = []
        if not self.host:
            found.append(
                "POSTHOG_HOST is empty: set it to https://us.posthog.com, "
                "https://eu.posthog.com or your self-hosted PostHog address."
            )
        if not self.project_id:
            found.append(
                "POSTHOG_PROJECT_ID is not set: it is the number in your PostHog "
                "URL, https://us.posthog.com/project/<id>."
            )
        elif not self.project_id.isdigit():
            found.append(f"POSTHOG_PROJECT_ID must be a number, not {self.project_id!r}.")
        if not self.api_key:
            found.append(
                "POSTHOG_API_KEY is not set: create a personal API key with the "
                "'Query Read' scope in PostHog (Settings > Personal API keys)."
            )
        elif self.api_key.startswith("phc_"):
            found.append(
                "POSTHOG_API_KEY is a project API key (phc_...), which can only "
                "send events. Create a personal API key (phx_...) with the "
                "'Query Read' scope in PostHog (Settings > Personal API keys)."
            )
        if ".i.posthog.com" in self.host:
            found.append(
                f"POSTHOG_HOST={self.host} is an ingestion host, which does not "
                "answer queries; use https://us.posthog.com or https://eu.posthog.com."
            )
        return found

    @property
    def missing_settings(self) -> list[str]:
        """Names of the settings that are unset."""
        names = {
            "POSTHOG_HOST": self.host,
            "POSTHOG_PROJECT_ID": self.project_id,
            "POSTHOG_API_KEY": self.api_key,
        }
        return [name for name, value in names.items() if not value]

    @property
    def query_url(self) -> str:
        return f"{self.host}/api/projects/{self.project_id}/query/"


def weekly_counts_hogql(*, week_mode: int, tz_name: str) -> str:
    """The HogQL that counts one range of weeks; the event and bounds are placeholders.

    The mode and time zone are explicit so the buckets do not depend on the PostHog
    project's own "week starts on" and time zone settings. `tz_name` is a validated
    IANA name (no quotes can occur in it).
    """
    return (
        f"SELECT toStartOfWeek(toTimeZone(timestamp, '{tz_name}'), {int(week_mode)}) AS week, "
        "count(DISTINCT person_id) AS visitors, count() AS pageviews "
        "FROM events "
        "WHERE event = {event} AND timestamp >= toDateTime({start}) AND timestamp < toDateTime({end}) "
        f"GROUP BY week ORDER BY week LIMIT {ROW_LIMIT}"
    )


class PostHogClient:
    """Talks to PostHog's Query API. Not thread-safe per instance; one per sync."""

    def __init__(
        self,
        config: PostHogConfig | None = None,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.config = config or PostHogConfig.from_settings()
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self._sleep = sleep or sleep_for
        self._clock = clock or monotonic_now
        self.queries = 0

    def ensure_configured(self) -> None:
        problems = self.config.problems()
        if problems:
            raise PostHogNotConfigured("PostHog is not configured: " + " ".join(problems))

    def weekly_counts(self, *, first_week: dt.date, last_week: dt.date) -> WeeklyCounts:
        """PostHog's unique visitors and pageviews for every week from first through last.

        One query (with its retries). Raises a `PostHogError` unless the answer came back
        complete, so a caller never mistakes a partial answer for weeks with zero visitors.
        """
        self.ensure_configured()
        rows = self._count_range(first_week, last_week)
        return WeeklyCounts(first_week, last_week, {row.week_start: row for row in rows})

    def test_connection(self) -> ConnectionInfo:
        """Spend one trivial query to check host, project and key."""
        self.ensure_configured()
        started = self._clock()
        body = self._query(hogql="SELECT 1", values={}, name="visitorsync connection test")
        return ConnectionInfo(
            host=self.config.host,
            project_id=self.config.project_id,
            timezone=body.get("timezone") if isinstance(body.get("timezone"), str) else None,
            elapsed=self._clock() - started,
        )

    # --- internals ----------------------------------------------------------------------
    def _count_range(self, first_week: dt.date, last_week: dt.date) -> list[WeekCount]:
        start, _ = weeks.week_bounds(first_week)
        _, end = weeks.week_bounds(last_week)
        body = self._query(
            hogql=weekly_counts_hogql(week_mode=self.config.week_mode, tz_name=self.config.timezone),
            values={
                "event": self.config.event,
                "start": _utc_iso(start),
                "end": _utc_iso(end),
            },
            name=f"visitorsync weekly counts {first_week:%Y-%m-%d}..{last_week:%Y-%m-%d}",
        )
        if body.get("hasMore"):
            raise PostHogBadResponse(
                f"PostHog returned a truncated answer (hasMore) for weeks {first_week} to "
                f"{last_week}; nothing was stored. Lower VISITORSYNC_CHUNK_WEEKS."
            )
        rows = body.get("results")
        if not isinstance(rows, list):
            raise PostHogBadResponse("PostHog's answer has no 'results' list; nothing was stored.")
        # PostHog sets hasMore only for queries without a LIMIT; with ours, a full page of
        # rows is the sign that some were cut off. A range has fewer weeks than the limit.
        if len(rows) >= ROW_LIMIT:
            raise PostHogBadResponse(
                f"PostHog returned {len(rows)} rows for weeks {first_week} to {last_week}, the "
                "most a query may return, so the answer may be cut short; nothing was stored. "
                "Lower VISITORSYNC_CHUNK_WEEKS."
            )
        parsed = [_parse_row(row) for row in rows]
        for row in parsed:
            if not first_week <= row.week_start <= last_week or not weeks.is_week_start(row.week_start):
                raise PostHogBadResponse(
                    f"PostHog returned week {row.week_start}, which is not a week start between "
                    f"{first_week} and {last_week}. Check that VISITORSYNC_WEEK_START and "
                    "VISITORSYNC_TIMEZONE are what you expect; nothing was stored."
                )
        return parsed

    def _query(self, *, hogql: str, values: dict[str, Any], name: str) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "query": {"kind": "HogQLQuery", "query": hogql},
            "name": name,
            "refresh": "force_blocking",
        }
        if values:
            payload["query"]["values"] = values
        headers = {
            "Authorization": f"Bearer {self.config.api_key}",
            "Accept": "application/json",
        }
        deadline = self._clock() + self.config.retry_deadline
        attempt = 0
        while True:
            attempt += 1
            with _in_flight:
                try:
                    self.queries += 1
                    response = self.session.post(
                        self.config.query_url,
                        json=payload,
                        headers=headers,
                        timeout=(self.config.connect_timeout, self.config.read_timeout),
                        allow_redirects=False,
                    )
                except (requests.ConnectionError, requests.Timeout) as err:
                    failure: PostHogError = PostHogUnavailable(
                        f"Could not reach PostHog at {self.config.host} "
                        f"({type(err).__name__}). Check POSTHOG_HOST and the network."
                    )
                    failure.__cause__ = err
                    wait = self._backoff(attempt)
                else:
                    if 200 <= response.status_code < 300:
                        return _json_object(response)
                    failure = self._error_for(response)
                    if response.status_code not in RETRY_STATUSES:
                        raise failure
                    wait = self._retry_after(response) or self._backoff(attempt)
            if attempt >= self.config.max_attempts or self._clock() + wait > deadline:
                logger.warning("PostHog query %r failed after %d attempts: %s", name, attempt, failure)
                raise failure
            logger.info(
                "PostHog query %r attempt %d failed (%s); retrying in %.1fs", name, attempt, failure, wait
            )
            self._sleep(wait)

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

    def _error_for(self, response: requests.Response) -> PostHogError:
        status = response.status_code
        detail = _detail(response, secret=self.config.api_key)
        host, project = self.config.host, self.config.project_id
        if status in (401, 403):
            return PostHogAuthError(
                f"PostHog rejected the API key ({status}: {detail}). Use a personal API key "
                "(phx_...) with the 'Query Read' scope that has access to project "
                f"{project}, and check it has not been revoked."
            )
        if status == 404:
            return PostHogNotFound(
                f"PostHog has no project {project} at {host} (404). Check POSTHOG_PROJECT_ID "
                "(the number in your PostHog URL) and POSTHOG_HOST (US or EU cloud)."
            )
        if status == 429:
            return PostHogRateLimited(
                f"PostHog is rate limiting queries for this project ({detail}). The limit is "
                "shared by your whole team; try again in a few minutes."
            )
        if 300 <= status < 400:
            return PostHogBadResponse(
                f"PostHog answered a redirect ({status}) to {response.headers.get('Location')}. "
                "Set POSTHOG_HOST to the final address (https, no path)."
            )
        if status == 400:
            return PostHogQueryRejected(
                f"PostHog rejected the query (400: {detail}). This is likely a visitorsync bug "
                "or an unsupported PostHog version; please report it."
            )
        if status >= 500:
            return PostHogUnavailable(
                f"PostHog failed with {status} ({detail}). It is usually temporary; try "
                "again later and check https://status.posthog.com."
            )
        return PostHogBadResponse(f"PostHog answered {status} ({detail}).")


def _utc_iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as err:
        raise PostHogBadResponse(
            "PostHog answered with something that is not JSON. Check that POSTHOG_HOST is "
            "PostHog's app host (https://us.posthog.com), not a proxy or the ingestion host."
        ) from err
    if not isinstance(body, dict):
        raise PostHogBadResponse("PostHog's answer is not a JSON object; nothing was stored.")
    return body


def _detail(response: requests.Response, *, secret: str) -> str:
    """A short excerpt of an error answer, for messages that are logged and stored.

    A proxy or debugging endpoint may echo the request back, so the API key is cut out
    (before shortening, which could otherwise leave half of it).
    """
    try:
        body = response.json()
    except ValueError:
        text = (response.text or response.reason or "").strip()
    else:
        text = str(body.get("detail") or body.get("code") or body) if isinstance(body, dict) else str(body)
    if secret:
        text = text.replace(secret, "[POSTHOG_API_KEY]")
    return text[:200]


def _parse_row(row: Any) -> WeekCount:
    if not isinstance(row, list | tuple) or len(row) < 3:
        raise PostHogBadResponse(f"PostHog returned a malformed row {row!r}; nothing was stored.")
    week, visitors, pageviews = row[0], row[1], row[2]
    try:
        # toStartOfWeek gives a Date ("2025-03-10"); tolerate a DateTime rendering too.
        week_start = dt.date.fromisoformat(str(week)[:10])
        visitors, pageviews = int(visitors), int(pageviews)
    except (TypeError, ValueError) as err:
        raise PostHogBadResponse(f"PostHog returned a malformed row {row!r}; nothing was stored.") from err
    if visitors < 0 or pageviews < 0 or visitors > pageviews:
        raise PostHogBadResponse(
            f"PostHog returned impossible numbers for week {week_start}: {visitors} visitors, "
            f"{pageviews} pageviews; nothing was stored."
        )
    return WeekCount(week_start, visitors, pageviews)
