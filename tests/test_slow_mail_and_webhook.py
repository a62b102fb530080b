"""A mail server or alert webhook that drips its answers: each send ends at its own timeout.

A socket timeout bounds each read, so a peer that sends one byte every 0.1 s never trips a
1 s timeout and holds a send for as long as it drips. The loopback servers (tests/support)
drip for real, for `DRIP_FOR` seconds of each connection (the peer's own cutoff, after which
they answer in full); the tests prove the client hung up first by the bytes the server got to
send, and the elapsed time only by a bound far below the drip.
"""

import ssl
import time

import pytest
from django.core.mail import get_connection, send_mail

from metrics.core.errors import MailTooSlow, WebhookNotSent
from metrics.core.weeks import ONE_WEEK
from metrics.models import Alert, ReportDelivery, WeeklyMetric
from metrics.reports import alert_webhook, alerts, mail
from metrics.reports.weekly import last_complete_week
from tests.support.checks import settings_errors
from tests.support.mailserver import SMTPServer
from tests.support.nginx import self_signed_certificate

SECONDS_PER_BYTE = 0.1
DRIP_FOR = 15.0  # the peer's cutoff: a send that waits for the peer takes at least this long
TIMEOUT = 1.0

pytestmark = pytest.mark.django_db


@pytest.fixture
def dripping_mail(smtp_server, settings):
    settings.EMAIL_TIMEOUT = TIMEOUT
    smtp_server.drip(seconds_per_byte=SECONDS_PER_BYTE, for_seconds=DRIP_FOR)
    return smtp_server


@pytest.fixture
def dripping_hook(alert_hook, settings):
    settings.VISITORSYNC_ALERT_WEBHOOK_TIMEOUT = TIMEOUT
    alert_hook.drip(seconds_per_byte=SECONDS_PER_BYTE, for_seconds=DRIP_FOR)
    return alert_hook


def _elapsed(started: float) -> float:
    return time.monotonic() - started


def test_a_dripping_mail_server_is_hung_up_on_at_email_timeout(dripping_mail):
    started = time.monotonic()
    with pytest.raises(MailTooSlow, match=r"did not finish taking the message within 1 s \(EMAIL_TIMEOUT"):
        send_mail("subject", "text", "from@example.test", ["to@example.test"])
    assert _elapsed(started) < DRIP_FOR / 2  # did not wait for the peer
    assert dripping_mail.cut_drips() and dripping_mail.messages == []


def test_email_timeout_bounds_the_whole_send_of_a_connection_opened_first(dripping_mail):
    dripping_mail.drip(seconds_per_byte=0.0, for_seconds=0.0)
    connection = get_connection()
    connection.open()  # within a deadline of its own, and then watched by the send's
    dripping_mail.drip(seconds_per_byte=SECONDS_PER_BYTE, for_seconds=DRIP_FOR)  # MAIL, RCPT, DATA
    started = time.monotonic()
    with pytest.raises(MailTooSlow):
        send_mail("subject", "text", "from@example.test", ["to@example.test"], connection=connection)
    assert _elapsed(started) < DRIP_FOR / 2 and dripping_mail.cut_drips()


def test_a_report_to_a_dripping_mail_server_is_recorded_as_failed_and_sent_later(dripping_mail, settings):
    settings.VISITORSYNC_REPORT_RECIPIENTS = ["ana@example.test"]
    WeeklyMetric.objects.create(week_start=last_complete_week(), visitors=10, pageviews=30)
    with pytest.raises(mail.ReportNotSent, match=r"MailTooSlow: The mail server at 127\.0\.0\.1:"):
        mail.send_weekly_report()
    assert ReportDelivery.objects.get().status == ReportDelivery.Status.FAILED
    dripping_mail.drip(seconds_per_byte=0.0, for_seconds=0.0)
    assert mail.send_weekly_report().sent == ["ana@example.test"]


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["starttls", "smtps"])
def test_tls_sends_go_through_and_a_dripping_tls_server_is_hung_up_on(
    settings, tmp_path, monkeypatch, implicit_tls
):
    certificate, key = self_signed_certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(certificate, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))  # what the client's default context trusts
    with SMTPServer(tls=server_context, implicit_tls=implicit_tls) as server:
        settings.EMAIL_BACKEND = "metrics.reports.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, TIMEOUT
        settings.EMAIL_USE_TLS, settings.EMAIL_USE_SSL = not implicit_tls, implicit_tls
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        send_mail("subject", "text", "from@example.test", ["to@example.test"])
        assert len(server.to("to@example.test")) == 1
        server.drip(seconds_per_byte=SECONDS_PER_BYTE, for_seconds=DRIP_FOR)
        started = time.monotonic()
        with pytest.raises(MailTooSlow):
            send_mail("subject", "text", "from@example.test", ["to@example.test"])
        assert _elapsed(started) < DRIP_FOR / 2 and server.cut_drips()


def test_a_dripping_alert_webhook_is_hung_up_on_at_its_timeout(dripping_hook):
    started = time.monotonic()
    with pytest.raises(WebhookNotSent, match="did not answer within 1 s"):
        alert_webhook.post_text("[visitorsync] Sync failed")
    assert _elapsed(started) < DRIP_FOR / 2
    assert dripping_hook.cut_drips() and dripping_hook.attempts == 1


def test_an_alert_check_against_dripping_receivers_ends_within_both_timeouts(
    dripping_mail, dripping_hook, settings
):
    settings.VISITORSYNC_ALERT_RECIPIENTS = ["ops@example.test"]
    WeeklyMetric.objects.create(week_start=last_complete_week(), visitors=10, pageviews=10)
    WeeklyMetric.objects.create(week_start=last_complete_week() - ONE_WEEK, visitors=100, pageviews=100)
    started = time.monotonic()
    alerts.check()
    assert _elapsed(started) < DRIP_FOR / 2
    alert = Alert.objects.get()
    assert "mail: The mail server at 127.0.0.1:" in alert.last_error
    assert "webhook: The alert webhook at http://127.0.0.1:" in alert.last_error
    assert dripping_mail.cut_drips() and dripping_hook.cut_drips()


def test_slack_control_characters_in_alert_text_are_escaped(alert_hook):
    alert_webhook.post_text("PostHog said <!channel> & <https://evil.example|click> > 1")
    assert alert_hook.posts == [
        {"text": "PostHog said &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt; &gt; 1"}
    ]


@pytest.mark.parametrize("name", ["VISITORSYNC_REPORT_RECIPIENTS", "VISITORSYNC_ALERT_RECIPIENTS"])
def test_a_recipient_that_is_not_an_address_is_a_settings_error(settings, name):
    setattr(settings, name, ["ana@example.test", "ben@example.test\nBcc: eve@example.test"])
    [(check_id, message)] = settings_errors()
    assert check_id == "metrics.E015"
    assert (
        message == f"{name} holds 'ben@example.test\\nBcc: eve@example.test', which is not an email address."
    )
    setattr(settings, name, ["ana@example.test"])
    assert settings_errors() == []
