"""The weekly report's HTML part and the admin's reports panel, rendered by Chromium.

Screenshots: test-artifacts/report-email.png and test-artifacts/admin-reports-panel.png.
"""

import time
from http import HTTPStatus

import pytest

from metrics import jobs, reports, tracker
from metrics.models import SyncRun
from metrics.reports import alerts
from tests.support.browser import ARTIFACTS, browser_marks, log_in_as_superuser
from tests.support.posthog_stub import generate_events

pytestmark = browser_marks


@pytest.fixture
def stub_events():
    return generate_events(weeks=60, seed=11)


@pytest.mark.django_db(transaction=True)
def test_report_html_part_renders_in_chromium(posthog_stub, settings, browser_page):
    settings.VISITORSYNC_BACKFILL_WEEKS = 60
    settings.VISITORSYNC_BASE_URL = "https://metrics.example.test"
    jobs.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND))
    report = reports.build_report()
    message = reports.render_report(report, to="ana@example.test")
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    page = browser_page
    page.set_viewport_size({"width": 700, "height": 900})
    page.set_content(html)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "report-email.png", full_page=True)
    body = page.inner_text("body")
    assert f"{report.week.value('visitors'):,}" in body and "Last 8 weeks" in body
    assert "Same week a year earlier" in body and "not stored" not in body


@pytest.mark.django_db(transaction=True)
def test_admin_reports_panel_in_chromium(
    live_server,
    posthog_stub,
    settings,
    smtp_server,
    alert_hook,
    browser_page,
):
    from playwright.sync_api import expect

    settings.VISITORSYNC_REPORT_RECIPIENTS = ["ana@example.test", "ben@example.test"]
    settings.VISITORSYNC_ALERT_RECIPIENTS = ["ops@example.test"]
    settings.VISITORSYNC_BASE_URL = live_server.url
    posthog_stub.fail_next(HTTPStatus.UNAUTHORIZED)
    with pytest.raises(tracker.SyncFailed):
        jobs.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND))
    jobs.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND))  # resolves it
    alerts.send_test_alert()
    page = browser_page
    log_in_as_superuser(page, f"{live_server.url}/admin/metrics/weeklymetric/sync/")
    page.click("#send-test-report")
    # The page answers first; the report goes out after the answer, then shows on a reload.
    expect(page.locator(".messagelist")).to_contain_text("Test report: Sending the report for the week of")
    deadline = time.monotonic() + 30
    while len(smtp_server.to("ben@example.test")) < 1:
        assert time.monotonic() < deadline, "the test report was not sent after the answer"
        time.sleep(0.1)
    page.reload()
    panel = page.locator("#reports-alerts")
    expect(panel).to_contain_text("ana@example.test, ben@example.test")
    expect(panel.locator("#alert-history")).to_contain_text("Sync failed")
    expect(panel.locator("#last-report")).to_contain_text("(forced)")
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=ARTIFACTS / "admin-reports-panel.png")
    assert len(smtp_server.to("ana@example.test")) == 1
