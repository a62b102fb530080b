"""The HogQL that counts weeks, and how its answer is read: strictly, or not at all."""

import dataclasses
import datetime as dt
from typing import Any

from metrics import weeks
from metrics.posthog.errors import PostHogBadResponse

# PostHog answers at most 100 rows without a LIMIT, and at most 50,000 with one.
ROW_LIMIT = 1000


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


def read_weekly_counts(body: dict[str, Any], *, first_week: dt.date, last_week: dt.date) -> WeeklyCounts:
    """The weeks of a weekly-counts answer; raises PostHogBadResponse unless it is complete and sane."""
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
    return WeeklyCounts(first_week, last_week, {row.week_start: row for row in parsed})


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
