"""A door answers before its mail and alert webhook go out (issue 18, finding 1).

Over real HTTP (pytest-django's live server: a WSGI server that closes each response after
sending it, as gunicorn does) against a mail server and an alert webhook that drip their
answers: the cron endpoint's `report=1` and the admin's "Send a test report now" answer while
the sends are still going, and the sends end (hung up at their deadline) after the answer.
"""

import time

import pytest
import requests

from metrics.models import AlertDelivery, ReportDelivery, SyncRun
from tests.support.helpers import CRON_SECRET

SEND_TIMEOUT = 6.0  # EMAIL_TIMEOUT and the webhook's: each send is hung up on after this
DRIP_FOR = 30.0  # the peers' own cutoff; a door that waited for them would take this long
ANSWER_BOUND = SEND_TIMEOUT - 1  # an answer that came before any send could have ended

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dripping(settings, smtp_server, alert_hook, posthog_stub):
    settings.CRON_SECRET = CRON_SECRET
    settings.VISITORSYNC_REPORT_RECIPIENTS = ["ana@example.test", "ben@example.test"]
    settings.VISITORSYNC_ALERT_RECIPIENTS = ["ops@example.test"]
    settings.EMAIL_TIMEOUT = settings.VISITORSYNC_ALERT_WEBHOOK_TIMEOUT = SEND_TIMEOUT
    smtp_server.drip(seconds_per_byte=0.2, for_seconds=DRIP_FOR)
    alert_hook.drip(seconds_per_byte=0.2, for_seconds=DRIP_FOR)
    return smtp_server, alert_hook


def _cron(base: str, query: str = "") -> tuple[requests.Response, float]:
    """The scheduler's call, and how long it took to answer."""
    started = time.monotonic()
    response = requests.post(
        f"{base}/api/cron/sync-visitors{query}",
        headers={"Authorization": f"Bearer {CRON_SECRET}"},
        timeout=DRIP_FOR,
    )
    return response, time.monotonic() - started


def _wait_for(condition, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the sends after the answer did not end"
        time.sleep(0.2)


def test_the_cron_report_is_sent_after_the_answer(live_server, dripping, posthog_stub):
    response, answered = _cron(live_server.url, "?report=1")
    assert response.status_code == 200, response.text
    assert response.json()["report"]["queued"] == 2 and response.json()["report"]["sent"] == 0
    assert answered < ANSWER_BOUND, answered
    # Nothing had ended when the answer came; then the first send is hung up on at its deadline
    # (the rest are sent at the next call, the report's rule after a failure).
    assert not ReportDelivery.objects.exclude(status=ReportDelivery.Status.SENDING).exists()
    _wait_for(
        lambda: ReportDelivery.objects.filter(status=ReportDelivery.Status.FAILED).exists(),
        seconds=3 * SEND_TIMEOUT,
    )
    assert "MailTooSlow" in ReportDelivery.objects.get(status=ReportDelivery.Status.FAILED).error


def test_a_failed_sync_answers_before_its_alert_goes_out(live_server, dripping, posthog_stub):
    posthog_stub.fail_next(401, {"detail": "Invalid personal API key"})
    response, answered = _cron(live_server.url)
    assert response.status_code == 502, response.text
    assert answered < ANSWER_BOUND, answered
    assert SyncRun.objects.get().status == SyncRun.Status.FAILED
    # The "Sync failed" alert goes out after the answer, by mail and webhook, each hung up on.
    _wait_for(
        lambda: AlertDelivery.objects.exclude(status=AlertDelivery.Status.SENDING).count() == 2,
        seconds=4 * SEND_TIMEOUT,
    )
