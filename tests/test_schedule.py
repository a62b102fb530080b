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
        # What cronsim reads beyond numbers, lists, ranges and steps.
        ("0 9 * * mon-fri", dt.timedelta(days=3)),
        ("0 0 1 jan,jul *", dt.timedelta(days=184)),  # 1 July to 1 January
        ("0 0 L * *", dt.timedelta(days=31)),  # last day of the month: 28 February to 31 March
        ("0 0 * * 5L", dt.timedelta(weeks=5)),  # last Friday of the month
        ("0 0 * * MON#2", dt.timedelta(weeks=5)),  # second Monday of the month
        ("5/15 * * * *", dt.timedelta(minutes=15)),  # 5, 20, 35, 50 past each hour
        # Both day fields restricted: cron runs on either (the 13th, and every Friday).
        ("0 0 13 * 5", dt.timedelta(weeks=1)),
        # Gaps the whole year decides, not its first weeks.
        ("0 0 * 2 *", dt.timedelta(days=338)),  # 28 February to 1 February
        ("0 0 29 2 *", dt.timedelta(days=4 * 365 + 1)),
        ("0 8-18 * * 1-5", dt.timedelta(days=2, hours=14)),  # Friday 18:00 to Monday 08:00
    ],
)
def test_longest_gap(expression, gap):
    assert schedule.longest_gap(expression) == gap


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "* * * *",
        "61 * * * *",
        "*/0 * * * *",
        "a b c d e",
        "* * * * * *",  # cronsim's optional seconds field: cron has none
        "0 0 31 2 *",  # no February has a 31st
        "0 0 * * 8",
        "0 0 ? * *",  # Quartz's "no specific day": cronsim does not read it
    ],
)
def test_bad_expressions_are_refused(expression):
    with pytest.raises(schedule.ScheduleError):
        schedule.parse(expression)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("1,61 * * * *", "'61' is out of range 0-59"),
        ("0 0 0 * *", "'0' is out of range 1-31"),
        ("0 x * * *", "the hour field 'x' is not valid: use 0-23"),
    ],
)
def test_a_refusal_names_the_part_at_fault_and_what_the_field_accepts(expression, reason):
    with pytest.raises(schedule.ScheduleError) as caught:
        schedule.parse(expression)
    assert str(caught.value) == f"{expression!r} is not a valid cron expression: {reason}"


def test_an_expression_without_five_fields_says_so():
    with pytest.raises(schedule.ScheduleError, match=r"^'0 \*/6 \* \*' is not a five-field cron expression$"):
        schedule.parse("0 */6 * *")


def test_stale_after_is_twice_the_gap(settings):
    settings.VISITORSYNC_CRON_SCHEDULE = "0 */6 * * *"
    assert schedule.stale_after() == dt.timedelta(hours=12)


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("30 6 * * 1", "Mondays at 06:30"),
        ("0 0 * * *", "Every day at 00:00"),
        ("0 7,19 * * *", "Every day at 07:00 and 19:00"),
        ("0 9 * * 1-5", "Monday to Friday at 09:00"),
        ("0 9 * * mon-fri", "Monday to Friday at 09:00"),
        ("0 8 * * 1-7", "Every day at 08:00"),
        ("0 7 * * MON,WED,FRI", "Mondays, Wednesdays and Fridays at 07:00"),
        ("0 8 * * 0,6", "Saturdays and Sundays at 08:00"),
        ("0 0 * * 7", "Sundays at 00:00"),
        ("0 */6 * * *", "Every 6 hours"),
        ("15 */2 * * *", "Every 2 hours at :15"),
        ("15 * * * 1-5", "Every hour at :15, Monday to Friday"),
        ("*/15 * * * *", "Every 15 minutes"),
        ("* * * * *", "Every minute"),
    ],
)
def test_a_schedule_in_words_keeps_its_expression(expression, words):
    assert schedule.in_words(expression) == f"{words} ({expression})"


@pytest.mark.parametrize(
    "expression",
    [
        "0 0 1 * *",
        "0 0 * 1 *",
        "0 9-17 * * *",
        "5/15 * * * *",
        "0 0 * * 5L",
        "0 0 * * MON#2",
        "0 0 * * 1-3,5",
    ],
)
def test_a_schedule_not_said_plainly_is_its_expression(expression):
    assert schedule.in_words(expression) == expression
