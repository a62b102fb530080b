"""The sync page's "Reports and alerts" panel and its two test buttons."""

from http import HTTPStatus

import pytest
from django.test import Client

from metrics import reports
from metrics.core import weeks
from metrics.models import Alert, ReportDelivery, WeeklyMetric
from tests.support.admin import SYNC_URL, messages_of, staff

pytestmark = pytest.mark.django_db(transaction=True)

TEST_REPORT = "/admin/metrics/weeklymetric/sync/test-report/"
TEST_ALERT = "/admin/metrics/weeklymetric/sync/test-alert/"


@pytest.fixture
def configured(settings, smtp_server, alert_hook):
    settings.VISITORSYNC_REPORT_RECIPIENTS = ["ana@example.test"]
    settings.VISITORSYNC_ALERT_RECIPIENTS = ["ops@example.test"]
    return smtp_server, alert_hook


def _store_last_week() -> WeeklyMetric:
    week = reports.last_complete_week()
    WeeklyMetric.objects.create(week_start=week - weeks.ONE_WEEK, visitors=90, pageviews=200)
    return WeeklyMetric.objects.create(week_start=week, visitors=120, pageviews=300)


def test_panel_shows_recipients_and_hosts_never_secrets(admin_client, configured, settings):
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "mailer", "mail-password-123"
    html = admin_client.get(SYNC_URL).content.decode()
    assert 'id="reports-alerts"' in html
    assert "ana@example.test" in html and "ops@example.test" in html
    assert "SMTP at 127.0.0.1:" in html
    assert "http://127.0.0.1:" in html and "secretpath" not in html and "/services/T000" not in html
    assert "mail-password-123" not in html and "mailer" not in html
    assert "Send a test report now" in html and "Send a test alert" in html


def test_test_report_button_sends_the_last_week_marked_as_a_test(admin_client, configured):
    smtp_server, _ = configured
    week = _store_last_week()
    response = admin_client.post(TEST_REPORT, follow=True)
    assert response.redirect_chain == [(SYNC_URL, HTTPStatus.FOUND)]
    # The page answers at once; the mail follows the answer (done when the client returns).
    assert messages_of(response) == [
        f"Test report: Sending the report for the week of {week.week_start} to ana@example.test now: "
        "reload this page in a few seconds to see it under Reports and alerts."
    ]
    [message] = smtp_server.to("ana@example.test")
    assert message["Subject"].startswith("[Test] Visitors, week of") and "120" in message["Subject"]
    assert ReportDelivery.objects.get().forced  # a test does not count as the week's report
    html = admin_client.get(SYNC_URL).content.decode()
    assert f"Week of {week.week_start:%Y-%m-%d}, sent" in html and "(forced)" in html


def test_test_report_without_numbers_says_why(admin_client, configured):
    response = admin_client.post(TEST_REPORT, follow=True)
    [text] = messages_of(response)
    assert text.startswith("The test report was not sent. No numbers are stored for the week of")


def test_test_alert_button_reaches_mail_and_webhook_and_reports_a_failure(admin_client, configured):
    smtp_server, hook = configured
    response = admin_client.post(TEST_ALERT, follow=True)
    assert messages_of(response) == ["Test alert sent by mail.", "Test alert sent by webhook."]
    assert smtp_server.to("ops@example.test")[0]["Subject"] == "[visitorsync] Test alert"
    assert hook.posts[0]["text"].startswith("[visitorsync] Test alert\nThis is a test alert")
    hook.status = HTTPStatus.NOT_FOUND
    response = admin_client.post(TEST_ALERT, follow=True)
    assert messages_of(response)[1].startswith(
        "Test alert not sent. webhook: The alert webhook at http://127.0.0.1:"
    )
    assert Alert.objects.filter(kind="test").count() == 2
    assert "failed, retried" in admin_client.get(SYNC_URL).content.decode()


def test_test_alert_without_channels_says_what_to_set(admin_client, settings):
    settings.VISITORSYNC_ALERT_RECIPIENTS, settings.VISITORSYNC_ALERT_WEBHOOK_URL = [], ""
    [text] = messages_of(admin_client.post(TEST_ALERT, follow=True))
    assert text.startswith("No alert channel is configured: set VISITORSYNC_ALERT_RECIPIENTS")
    assert not Alert.objects.exists()


def test_buttons_need_the_sync_permission_post_and_csrf(client, configured):
    smtp_server, hook = configured
    _store_last_week()
    client.force_login(staff("viewer", "view_weeklymetric", "view_syncrun"))
    assert "Send a test report now" not in client.get(SYNC_URL).content.decode()
    for url in (TEST_REPORT, TEST_ALERT):
        assert client.post(url).status_code == HTTPStatus.FORBIDDEN
    syncer = Client(enforce_csrf_checks=True)
    syncer.force_login(staff("syncer", "view_weeklymetric", "sync_weeklymetric"))
    for url in (TEST_REPORT, TEST_ALERT):
        assert syncer.get(url).status_code == HTTPStatus.METHOD_NOT_ALLOWED  # require_POST: GET sends nothing
        assert syncer.post(url).status_code == HTTPStatus.FORBIDDEN  # no CSRF token
    assert smtp_server.messages == [] and hook.attempts == 0
