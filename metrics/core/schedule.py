"""The sync schedule (a cron expression) and how long data may go without a sync.

cronsim (the cron parser and evaluator that Healthchecks.io maintains) reads and runs the
expression, so all of cron's syntax works: lists, ranges, steps, month and weekday names,
Sunday as 0 or 7, and cronsim's `L`, `LW`, `5L` (last Friday) and `MON#2` (second Monday).
"""

import datetime as dt
import functools
import itertools
import re

from cronsim import CronSim, CronSimError
from django.conf import settings

from metrics.core.errors import ScheduleError

# Each field of a five-field expression: its name as cronsim's messages give it, its range,
# and what it accepts besides numbers, lists, ranges and steps.
_FIELDS = (
    ("minute", 0, 59, ""),
    ("hour", 0, 23, ""),
    ("day-of-month", 1, 31, ", a day that the months given have, L or LW"),
    ("month", 1, 12, " or JAN-DEC"),
    ("day-of-week", 0, 7, " (0 and 7 are Sunday), SUN-SAT, 5L (last Friday) or MON#2 (second Monday)"),
)
# Any moment works: cron's pattern of days repeats, and four years hold every gap short of
# a leap day's. Naive, as cron's wall clock is.
_SAMPLE_START = dt.datetime(2025, 1, 1)
_SAMPLE_END = dt.datetime(2029, 1, 1)
_ONE_SECOND = dt.timedelta(seconds=1)


@functools.lru_cache(maxsize=16)
def parse(expression: str) -> tuple[str, ...]:
    """The five fields of a cron expression cronsim can run; raises ScheduleError otherwise."""
    fields = tuple(expression.split())
    if len(fields) != 5:  # cronsim also reads a sixth field, seconds, which cron does not have
        raise ScheduleError(f"{expression!r} is not a five-field cron expression")
    try:
        CronSim(expression, _SAMPLE_START)
    except CronSimError as err:
        raise ScheduleError(f"{expression!r} is not a valid cron expression: {_why(fields, err)}") from err
    return fields


def _why(fields: tuple[str, ...], err: CronSimError) -> str:
    """cronsim says which field is bad ("Bad minute"); say what is wrong with it and what works."""
    for (name, low, high, also), text in zip(_FIELDS, fields, strict=True):
        if str(err) != f"Bad {name}":
            continue
        for part in text.split(","):
            if any(not low <= int(number) <= high for number in re.findall(r"\d+", part)):
                return f"{part!r} is out of range {low}-{high}"
        return f"the {name} field {text!r} is not valid: use {low}-{high}{also}"
    return str(err)


@functools.lru_cache(maxsize=16)
def longest_gap(expression: str) -> dt.timedelta:
    """The longest time between two runs of the schedule.

    The hours and minutes of a cron expression are the same on every day it runs, so the
    longest gap is either one within such a day or the one from a day's last run to the
    next day's first: cronsim walks the times of one day, then the days (over four years).
    """
    minute, hour, day, month, weekday = parse(expression)
    times = [
        moment - _SAMPLE_START
        for moment in itertools.takewhile(
            lambda moment: moment.date() == _SAMPLE_START.date(),
            CronSim(f"{minute} {hour} * * *", _SAMPLE_START - _ONE_SECOND),
        )
    ]
    longest = max((b - a for a, b in itertools.pairwise(times)), default=dt.timedelta(0))
    days = _days(f"0 0 {day} {month} {weekday}")
    if len(days) < 2:
        raise ScheduleError(f"{expression!r} is not a valid cron expression: it never runs twice in 50 years")
    day_span = times[-1] - times[0]
    return max(longest, *(b - a - day_span for a, b in itertools.pairwise(days)))


def _days(expression: str) -> list[dt.datetime]:
    """The midnights the expression runs on over the sample and the first one after it, or
    the first two (cronsim looks up to 50 years past each)."""
    days = []
    for day in CronSim(expression, _SAMPLE_START - _ONE_SECOND):
        days.append(day)
        if day >= _SAMPLE_END and len(days) >= 2:
            break
    return days


def stale_after() -> dt.timedelta:
    """Data is stale when no sync succeeded within twice the schedule's longest gap."""
    return 2 * longest_gap(settings.VISITORSYNC_CRON_SCHEDULE)


_DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_DAY_ABBREVIATIONS = {name[:3].upper(): str(number) for number, name in enumerate(_DAY_NAMES)}


def in_words(expression: str) -> str:
    """The schedule in words ("Mondays at 06:30", "every 6 hours"), followed by the expression
    in parentheses; the expression alone where it has a shape not said plainly here (days of the
    month, months, steps other than in the minute or hour alone)."""
    fields = expression.split()
    words = _say(*fields) if len(fields) == 5 else None
    return f"{words[0].upper()}{words[1:]} ({expression})" if words else expression


def _say(minute: str, hour: str, day: str, month: str, weekday: str) -> str | None:
    days = _say_days(weekday) if day == month == "*" else None
    if days is None:
        return None
    if minute.isdigit() and all(part.isdigit() for part in hour.split(",")):
        times = [f"{int(h):02d}:{int(minute):02d}" for h in sorted(hour.split(","), key=int)]
        return f"{days} at {_join(times)}"
    if minute.isdigit() and hour == "*":
        times = f"every hour at :{int(minute):02d}"
    elif minute.isdigit() and (step := re.fullmatch(r"(?:\*|0)/(\d+)", hour)):
        times = f"every {step[1]} hours" + (f" at :{int(minute):02d}" if int(minute) else "")
    elif hour == "*" and (step := re.fullmatch(r"(?:\*|0)/(\d+)", minute)):
        times = f"every {step[1]} minutes"
    elif hour == minute == "*":
        times = "every minute"
    else:
        return None
    return times if days == "every day" else f"{times}, {days}"


def _say_days(weekday: str) -> str | None:
    """ "every day", "Mondays", "Monday to Friday", "Mondays and Thursdays", or None."""
    text = weekday.upper()
    for abbreviation, number in _DAY_ABBREVIATIONS.items():
        text = text.replace(abbreviation, number)
    if text == "*":
        return "every day"
    if not re.fullmatch(r"\d(-\d)?(,\d(-\d)?)*", text):
        return None
    parts = text.split(",")
    if len(parts) == 1 and "-" in text:
        first, last = (int(end) % 7 for end in text.split("-"))
        return (
            "every day"
            if (first, last) == (0, 6) or (first, last) == (1, 0)
            else (f"{_DAY_NAMES[first]} to {_DAY_NAMES[last]}")
        )
    if any("-" in part for part in parts):
        return None
    numbers = sorted({int(part) % 7 for part in parts}, key=lambda n: (n - 1) % 7)  # Monday first
    return _join([f"{_DAY_NAMES[n]}s" for n in numbers])


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
