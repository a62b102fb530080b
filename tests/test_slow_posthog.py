"""A PostHog that trickles its answer, over real HTTP: each attempt ends at POSTHOG_QUERY_TIMEOUT.

requests' read timeout bounds each socket read, so an answer that arrives one byte every
0.2 s never trips it. The stub (tests/support/posthog_stub.py) trickles its answers for real on
loopback; these tests check the client hangs up instead of reading on, and that a sync,
the cron endpoint and the management command (a separate process) report it and change
nothing. No test measures time: each proves the cut by the bytes the stub got to send.
"""

import os
import subprocess
import sys
from http import HTTPStatus

import pytest

from metrics import tracker
from metrics.core import weeks
from metrics.models import SyncRun, WeeklyMetric
from metrics.posthog import PostHogClient, PostHogUnavailable, client
from tests.support.helpers import CRON_SECRET, stored_numbers
from tests.support.stack import ROOT

pytestmark = pytest.mark.django_db

SECONDS_PER_BYTE = 0.2  # a 700-byte answer would take more than two minutes
WAIT = 30  # seconds the test waits for the stub to notice the hang-up (a bound, not a measure)


@pytest.fixture
def trickling(posthog_stub, settings):
    """The stub, trickling; one short attempt per query, each byte well within the read timeout."""
    settings.POSTHOG_QUERY_TIMEOUT = 1.0
    settings.POSTHOG_READ_TIMEOUT = 10.0
    settings.POSTHOG_MAX_ATTEMPTS = 1
    posthog_stub.trickle(seconds_per_byte=SECONDS_PER_BYTE)
    return posthog_stub


def assert_hung_up(stub, count: int = 1) -> None:
    trickles = stub.wait_for_trickles(count, timeout=WAIT)
    assert len(trickles) == count
    for trickle in trickles:
        assert trickle.sent < trickle.total, "the client read the whole answer instead of hanging up"


@pytest.mark.parametrize("headers_too", [True, False], ids=["from-the-status-line", "body-only"])
def test_an_answer_that_trickles_in_is_cut_off_at_the_query_timeout(trickling, headers_too):
    trickling.trickle(seconds_per_byte=SECONDS_PER_BYTE, headers=headers_too)
    week = weeks.current_week_start()
    with pytest.raises(PostHogUnavailable, match="answered too slowly") as caught:
        PostHogClient().weekly_counts(first_week=week, last_week=week)
    assert "POSTHOG_QUERY_TIMEOUT" in str(caught.value) and "1 s" in str(caught.value)
    assert trickling.query_count == 1
    assert_hung_up(trickling)
    assert not client._in_flight.locked()


def test_an_answer_without_a_length_cut_at_the_deadline_is_too_slow_not_malformed(trickling):
    """An answer that ends when the connection does looks whole when the deadline hangs up on
    it; it is retried as too slow, not refused as PostHog answering nonsense."""
    trickling.trickle(seconds_per_byte=SECONDS_PER_BYTE, headers=False, length=False)
    week = weeks.current_week_start()
    with pytest.raises(PostHogUnavailable, match="answered too slowly"):
        PostHogClient().weekly_counts(first_week=week, last_week=week)
    assert_hung_up(trickling)


def test_a_trickled_answer_is_retried_within_the_retry_deadline(trickling, settings, no_sleep):
    settings.POSTHOG_MAX_ATTEMPTS = 2
    week = weeks.current_week_start()
    posthog_client = PostHogClient()
    with pytest.raises(PostHogUnavailable, match="answered too slowly"):
        posthog_client.weekly_counts(first_week=week, last_week=week)
    assert posthog_client.queries == trickling.query_count == 2
    assert len(no_sleep) == 1
    assert_hung_up(trickling, 2)


def test_a_sync_whose_answer_trickles_fails_recorded_and_changes_nothing(trickling):
    week = weeks.current_week_start()
    WeeklyMetric.objects.create(week_start=week, visitors=3, pageviews=4)
    with pytest.raises(tracker.SyncFailed, match="answered too slowly") as caught:
        tracker.sync_weeks(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND), week_starts=[week])
    run = SyncRun.objects.get()
    assert caught.value.run == run
    assert run.status == SyncRun.Status.FAILED and "POSTHOG_QUERY_TIMEOUT" in run.error
    assert stored_numbers() == {week: (3, 4)}
    assert_hung_up(trickling)


@pytest.mark.usefixtures("endpoint_secrets")
def test_the_cron_endpoint_answers_502_instead_of_waiting_for_a_trickle(client, trickling):
    week = weeks.current_week_start()
    WeeklyMetric.objects.create(week_start=week, visitors=3, pageviews=4)
    response = client.post("/api/cron/sync-visitors", HTTP_AUTHORIZATION=f"Bearer {CRON_SECRET}")
    assert response.status_code == HTTPStatus.BAD_GATEWAY
    body = response.json()
    assert "answered too slowly" in body["error"] and body["run"]["status"] == "failed"
    assert stored_numbers() == {week: (3, 4)}
    assert_hung_up(trickling)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_sync_command_process_fails_instead_of_waiting_for_a_trickle(trickling):
    """A separate process, as a scheduler runs it, over real HTTP to the trickling stub."""
    from django.db import connection

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.support.settings",
        "POSTHOG_HOST": trickling.url,
        "POSTHOG_QUERY_TIMEOUT": "1",
        "POSTHOG_READ_TIMEOUT": "10",
        "POSTHOG_MAX_ATTEMPTS": "1",
    }
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    command = [sys.executable, "manage.py", "sync_visitors"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "answered too slowly" in result.stderr and "Traceback" not in result.stderr
    assert WeeklyMetric.objects.count() == 0
    assert SyncRun.objects.get().status == SyncRun.Status.FAILED
    assert_hung_up(trickling)
