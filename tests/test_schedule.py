import datetime as dt

import pytest

from metrics.core import schedule


@pytest.mark.parametrize(
    ("expression", "gap"),
    [
        ("0 */6 * * *", dt.timedelta(hours=6)),
        ("*/15 * * * *", dt.timedelta(minutes=15)),
        ("30 2 * * *", dt.timedelta(days=1)),
        ("0 9 * * 1-5", dt.timedelta(days=3)),  # Friday 09:00 to Monday 09:00
        ("0 0 * * 7", dt.timedelta(weeks=1)),  # 7 is Sunday too
        ("0 0 1 * *", dt.timedelta(days=31)),
    ],
)
def test_longest_gap(expression, gap):
    assert schedule.longest_gap(expression) == gap


@pytest.mark.parametrize("expression", ["", "* * * *", "61 * * * *", "*/0 * * * *", "a b c d e"])
def test_bad_expressions_are_refused(expression):
    with pytest.raises(schedule.ScheduleError):
        schedule.parse(expression)


def test_stale_after_is_twice_the_gap(settings):
    settings.VISITORSYNC_CRON_SCHEDULE = "0 */6 * * *"
    assert schedule.stale_after() == dt.timedelta(hours=12)
