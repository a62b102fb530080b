"""PostHog answers larger than POSTHOG_MAX_ANSWER_BYTES, over real HTTP on loopback.

The stand-in (demo/posthog_standin.py) pads its true answer to any size, streaming it without
holding it in memory, with or without a Content-Length, or announces more than it sends. The
client must refuse such an answer without reading more than the limit (and one chunk), and a
sync must record the failure and change nothing. Each test proves the cut by what was read
(the bytes the stand-in got to send, the memory the client took), never by time.
"""

import time
import tracemalloc

import pytest
import responses

from metrics import tracker
from metrics.core import weeks
from metrics.models import SyncRun, WeeklyMetric
from metrics.posthog import PostHogAnswerTooLarge, PostHogBadResponse, PostHogClient, client
from tests.support.checks import settings_errors
from tests.support.environment import read_setting
from tests.support.helpers import QUERY_URL, stored_numbers

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024
LIMIT = 1 * MiB
WAIT = 30  # seconds the test waits for the stand-in to notice the hang-up (a bound, not a measure)


@pytest.fixture
def limited(posthog_stub, settings):
    """The stand-in, with a 1 MiB answer limit and one attempt per query."""
    settings.POSTHOG_MAX_ANSWER_BYTES = LIMIT
    settings.POSTHOG_MAX_ATTEMPTS = 1
    return posthog_stub


def wait_for_large_answer(stub) -> None:
    deadline = time.monotonic() + WAIT
    while not stub.large_answers and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stub.large_answers, "the stand-in never finished its large answer"


def test_an_answer_just_under_the_limit_is_read_whole(limited):
    limited.answer_next_large(LIMIT - 1, length=False)
    week = weeks.current_week_start()
    counts = PostHogClient().weekly_counts(first_week=week, last_week=week)
    assert counts.for_week(week) is not None
    wait_for_large_answer(limited)
    [answer] = limited.large_answers
    assert answer.sent == answer.total == LIMIT - 1


def test_an_answer_without_a_length_is_cut_off_after_the_limit(limited):
    limited.answer_next_large(64 * MiB, length=False)
    week = weeks.current_week_start()
    tracemalloc.start()
    try:
        with pytest.raises(PostHogAnswerTooLarge) as caught:
            PostHogClient().weekly_counts(first_week=week, last_week=week)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    assert message.startswith(
        "PostHog's answer is larger than POSTHOG_MAX_ANSWER_BYTES (1,048,576 bytes; it sent more), so "
        "visitorsync stopped reading it and stored nothing."
    )
    assert isinstance(caught.value, PostHogBadResponse)  # not retried: PostHog answered
    assert limited.query_count == 1
    # Read no more than the limit and a chunk: the answer's 64 MiB never were in memory.
    assert peak < 8 * MiB, f"{peak / MiB:.1f} MiB"
    wait_for_large_answer(limited)
    [answer] = limited.large_answers
    assert answer.sent < answer.total / 4, "the client read on instead of hanging up"
    assert not client._in_flight.locked()


def test_an_answer_announcing_more_than_the_limit_is_refused_before_its_body(limited, settings):
    # 64 MiB announced, 1 KiB sent, then nothing: a client that reads the body would wait for
    # the read timeout (and then call PostHog unreachable) instead of refusing at once.
    settings.POSTHOG_READ_TIMEOUT = 10.0
    limited.answer_next_large(64 * MiB, stall_after=1024)
    week = weeks.current_week_start()
    with pytest.raises(PostHogAnswerTooLarge, match=r"it announced 67,108,864 bytes"):
        PostHogClient().weekly_counts(first_week=week, last_week=week)


def test_a_sync_given_too_large_an_answer_fails_recorded_and_changes_nothing(limited):
    week = weeks.current_week_start()
    WeeklyMetric.objects.create(week_start=week, visitors=3, pageviews=4)
    limited.answer_next_large(8 * MiB, length=False)
    with pytest.raises(tracker.SyncFailed, match="larger than POSTHOG_MAX_ANSWER_BYTES") as caught:
        tracker.sync_weeks(
            tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND, dry_run=True), week_starts=[week]
        )
    run = SyncRun.objects.get()
    assert caught.value.run == run
    assert run.status == SyncRun.Status.FAILED and "POSTHOG_MAX_ANSWER_BYTES" in run.error
    assert stored_numbers() == {week: (3, 4)}


@responses.activate
def test_the_limit_applies_to_error_answers_too(settings, no_sleep):
    settings.POSTHOG_MAX_ANSWER_BYTES = 1024
    responses.post(QUERY_URL, status=502, body=b"<html>" + b"x" * 4096)
    week = weeks.current_week_start()
    with pytest.raises(PostHogAnswerTooLarge, match=r"POSTHOG_MAX_ANSWER_BYTES \(1,024 bytes"):
        PostHogClient().weekly_counts(first_week=week, last_week=week)
    assert len(responses.calls) == 1  # not retried


@pytest.mark.parametrize("limit", [0, -1])
def test_a_limit_that_refuses_every_answer_is_a_settings_error(settings, limit):
    settings.POSTHOG_MAX_ANSWER_BYTES = limit
    assert settings_errors() == [
        (
            "metrics.E014",
            f"POSTHOG_MAX_ANSWER_BYTES must be a positive number of bytes, not {limit}: it is the most "
            "of one PostHog answer visitorsync reads, far above a real weekly answer.",
        )
    ]


def test_the_default_limit_is_16_mib():
    assert read_setting("POSTHOG_MAX_ANSWER_BYTES", SECRET_KEY="x" * 50).stdout.strip() == str(16 * MiB)
