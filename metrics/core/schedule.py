"""The sync schedule (a cron expression) and how long data may go without a sync."""

import datetime as dt
import functools
import itertools

from django.conf import settings

from metrics.core.errors import ScheduleError

_FIELD_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))  # minute hour dom month dow


def _parse_field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            start, end = (int(x) for x in base.split("-", 1))
        else:
            start = end = int(base)
        if step < 1 or start < low or end > high or start > end:
            raise ScheduleError(f"{part!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@functools.lru_cache(maxsize=16)
def parse(expression: str) -> tuple[frozenset[int], ...]:
    """The five fields of a cron expression as sets of allowed values (Sunday = 0 or 7)."""
    fields = expression.split()
    if len(fields) != 5:
        raise ScheduleError(f"{expression!r} is not a five-field cron expression")
    try:
        parsed = [
            _parse_field(text.replace("7", "0") if i == 4 else text, *_FIELD_RANGES[i])
            for i, text in enumerate(fields)
        ]
    except ValueError as err:
        raise ScheduleError(f"{expression!r} is not a valid cron expression: {err}") from err
    return tuple(parsed)


@functools.lru_cache(maxsize=16)
def longest_gap(expression: str) -> dt.timedelta:
    """The longest time between two runs of the schedule, over a sample of four weeks."""
    minutes, hours, days, months, weekdays = parse(expression)
    start = dt.datetime(2025, 1, 1)
    fires = []
    for offset in range(0, 4 * 7 * 24 * 60):
        moment = start + dt.timedelta(minutes=offset)
        if (
            moment.minute in minutes
            and moment.hour in hours
            and moment.day in days
            and moment.month in months
            and (moment.isoweekday() % 7) in weekdays
        ):
            fires.append(moment)
    if len(fires) < 2:
        return dt.timedelta(days=31)  # monthly or rarer: a month is the honest bound
    return max(b - a for a, b in itertools.pairwise(fires))


def stale_after() -> dt.timedelta:
    """Data is stale when no sync succeeded within twice the schedule's longest gap."""
    return 2 * longest_gap(settings.VISITORSYNC_CRON_SCHEDULE)
