"""Week boundaries, from explicit settings only (week start day and time zone).

A week is identified by the date of its first day in `VISITORSYNC_TIMEZONE`. The webhook
path and the sync path both go through these functions, so the same event always lands
in the same week on both paths and in PostHog's answer.
"""

import datetime as dt
import zoneinfo
from collections.abc import Iterator

from django.conf import settings
from django.utils import timezone

ONE_WEEK = dt.timedelta(days=7)
# Older than any PostHog data: nothing before it is a real pageview, and a `since` before it
# is a typo that would cost the team's query budget thousands of queries. It also keeps
# week arithmetic away from year 1.
EARLIEST_DAY = dt.date(2000, 1, 1)

# Python weekday() numbers and the matching ClickHouse toStartOfWeek modes.
_START_WEEKDAY = {"monday": 0, "sunday": 6}
_HOGQL_WEEK_MODE = {"monday": 3, "sunday": 0}


def tz() -> zoneinfo.ZoneInfo:
    """The configured time zone that decides which day (and so which week) a moment is in."""
    return zoneinfo.ZoneInfo(settings.VISITORSYNC_TIMEZONE)


def start_weekday() -> int:
    """Python weekday number (Monday=0) that weeks start on."""
    return _START_WEEKDAY[settings.VISITORSYNC_WEEK_START]


def hogql_week_mode() -> int:
    """The `toStartOfWeek` mode that matches the configured week start."""
    return _HOGQL_WEEK_MODE[settings.VISITORSYNC_WEEK_START]


def week_start_for_date(day: dt.date) -> dt.date:
    """First day of the week that contains `day`."""
    return day - dt.timedelta(days=(day.weekday() - start_weekday()) % 7)


def week_start_for(moment: dt.datetime) -> dt.date:
    """First day of the week that contains the aware datetime `moment` (local time zone)."""
    if timezone.is_naive(moment):
        raise ValueError("week_start_for needs an aware datetime")
    return week_start_for_date(moment.astimezone(tz()).date())


def current_week_start(*, now: dt.datetime | None = None) -> dt.date:
    """First day of the week in progress."""
    return week_start_for(now or timezone.now())


def is_week_start(day: dt.date) -> bool:
    return day.weekday() == start_weekday()


def week_range(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    """Every week start from `first` through `last`, both included (both week starts)."""
    week = first
    while week <= last:
        yield week
        week += ONE_WEEK


def week_bounds(week_start: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The half-open interval [start, end) of the week, as aware UTC datetimes.

    Local midnights, so a week across a DST change is 167 or 169 hours long.
    """
    zone = tz()
    start = dt.datetime.combine(week_start, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(week_start + ONE_WEEK, dt.time.min, tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)
