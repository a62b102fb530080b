import datetime as dt
import zoneinfo

import pytest

from metrics.core import weeks

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def test_sunday_night_and_monday_morning_local_are_different_monday_weeks(settings):
    settings.VISITORSYNC_TIMEZONE = "Europe/Berlin"
    settings.VISITORSYNC_WEEK_START = "monday"
    sunday_late = dt.datetime(2025, 3, 9, 23, 30, tzinfo=BERLIN)
    monday_early = dt.datetime(2025, 3, 10, 0, 10, tzinfo=BERLIN)
    assert weeks.week_start_for(sunday_late) == dt.date(2025, 3, 3)
    assert weeks.week_start_for(monday_early) == dt.date(2025, 3, 10)
    # The same Monday-morning moment is still Sunday in UTC: the setting decides, not UTC.
    assert monday_early.astimezone(dt.UTC).date() == dt.date(2025, 3, 9)


def test_sunday_weeks(settings):
    settings.VISITORSYNC_WEEK_START = "sunday"
    assert weeks.week_start_for_date(dt.date(2025, 3, 12)) == dt.date(2025, 3, 9)
    assert weeks.week_start_for_date(dt.date(2025, 3, 9)) == dt.date(2025, 3, 9)
    assert weeks.hogql_week_mode() == 0
    assert weeks.is_week_start(dt.date(2025, 3, 9))
    assert not weeks.is_week_start(dt.date(2025, 3, 10))


def test_monday_mode_is_three(settings):
    settings.VISITORSYNC_WEEK_START = "monday"
    assert weeks.hogql_week_mode() == 3


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="aware"):
        weeks.week_start_for(dt.datetime(2025, 3, 10, 12, 0))


def test_week_bounds_follow_local_midnight_across_dst(settings):
    settings.VISITORSYNC_TIMEZONE = "Europe/Berlin"
    start, end = weeks.week_bounds(dt.date(2025, 3, 24))  # DST starts Sunday 30 March
    assert start == dt.datetime(2025, 3, 23, 23, 0, tzinfo=dt.UTC)
    assert end == dt.datetime(2025, 3, 30, 22, 0, tzinfo=dt.UTC)
    assert end - start == dt.timedelta(hours=167)


def test_week_range_is_inclusive():
    got = list(weeks.week_range(dt.date(2025, 1, 6), dt.date(2025, 1, 20)))
    assert got == [dt.date(2025, 1, 6), dt.date(2025, 1, 13), dt.date(2025, 1, 20)]
