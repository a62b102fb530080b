"""The weekly report: its numbers, its mail (to a real SMTP server on loopback), its doors."""

import datetime as dt
from http import HTTPStatus
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from metrics import reports, tracker
from metrics.core import weeks
from metrics.models import ReportDelivery, SyncRun, WeeklyMetric
from metrics.reports.weekly import format_change
from tests.support.helpers import CRON_SECRET
from tests.support.posthog_stub import generate_events

pytestmark = pytest.mark.django_db(transaction=True)

RECIPIENTS = ["ana@example.test", "ben@example.test"]


@pytest.fixture
def stub_events():
    """Sixty weeks, so the last complete week has a stored week 52 weeks back."""
    return generate_events(weeks=60, seed=11)


@pytest.fixture
def report_settings(settings):
    settings.VISITORSYNC_REPORT_RECIPIENTS = RECIPIENTS
    settings.VISITORSYNC_BACKFILL_WEEKS = 60
    settings.VISITORSYNC_BASE_URL = "https://metrics.example.test"
    return settings


def _parts(message) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def test_report_after_a_sync_reaches_each_recipient_once_with_the_stored_numbers(
    posthog_stub, smtp_server, report_settings
):
    tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND))
    week = reports.last_complete_week()
    stored = {row.week_start: row for row in WeeklyMetric.objects.all()}
    this, before, year = stored[week], stored[week - weeks.ONE_WEEK], stored[week - weeks.ONE_WEEK * 52]
    assert this.visitors and before.visitors and year.visitors  # the fixture gives every week visitors

    out = StringIO()
    call_command("send_weekly_report", stdout=out)

    assert sorted(r for rcpts, _ in smtp_server.messages for r in rcpts) == sorted(RECIPIENTS)
    change = format_change((this.visitors - before.visitors) / before.visitors)
    year_change = format_change((this.visitors - year.visitors) / year.visitors)
    for recipient in RECIPIENTS:
        [message] = smtp_server.to(recipient)
        assert message["To"] == recipient and message["From"] == "visitorsync <reports@example.test>"
        assert message["Subject"] == (
            f"Visitors, week of {week:%d %b %Y}: {this.visitors:,}, {change} on the week before"
        )
        text, html = _parts(message)
        for part in (text, html):
            assert f"{this.visitors:,}" in part and f"{this.pageviews:,}" in part
            assert change in part and year_change in part
            assert "Confirmed by PostHog" in part
            assert "https://metrics.example.test/admin/metrics/weeklymetric/" in part
        assert f"Week before: {change} / " in text
        assert f"Same week a year earlier: {year_change} / " in text
        assert "<table" in html
    assert "sent to ana@example.test, ben@example.test" in out.getvalue()
    assert ReportDelivery.objects.filter(week_start=week, status="sent").count() == 2

    out = StringIO()
    call_command("send_weekly_report", stdout=out)
    assert len(smtp_server.messages) == 2
    assert "sent to nobody new; 2 already had it" in out.getvalue()

    call_command("send_weekly_report", "--force", stdout=StringIO())
    assert len(smtp_server.messages) == 4


def test_dry_run_shows_the_report_and_sends_nothing(posthog_stub, smtp_server, report_settings):
    tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND))
    out = StringIO()
    call_command("send_weekly_report", "--dry-run", stdout=out)
    assert (
        "Unique visitors:" in out.getvalue()
        and "would go to ana@example.test, ben@example.test" in out.getvalue()
    )
    assert smtp_server.messages == [] and not ReportDelivery.objects.exists()


def _store(week: dt.date, visitors: int, *, synced: bool = True) -> WeeklyMetric:
    _, end = weeks.week_bounds(week)
    return WeeklyMetric.objects.create(
        week_start=week, visitors=visitors, pageviews=visitors * 3, synced_at=end if synced else None
    )


def test_report_numbers_come_from_one_query_and_mark_an_unconfirmed_week():
    week = reports.last_complete_week()
    for n, visitors in enumerate([100, 80, 60, 40, 20]):
        _store(week - weeks.ONE_WEEK * n, visitors, synced=n > 0)
    _store(week - weeks.ONE_WEEK * 52, 50)
    with CaptureQueriesContext(connection) as queries:
        report = reports.build_report()
    assert len(queries) == 2  # the weeks and the metric definitions (no user-defined metric)
    assert report.week.value("visitors") == 100 and not report.week.confirmed
    assert report.week.change("visitors") == pytest.approx(0.25)
    assert report.week.change_from_last_year("visitors") == pytest.approx(1.0)
    assert report.average("visitors") == pytest.approx(50)  # (80 + 60 + 40 + 20) / 4
    assert [w.value("visitors") for w in report.history] == [20, 40, 60, 80, 100]
    text = reports.render_report(report, to="a@example.test").body
    assert "Not yet confirmed by PostHog" in text and "+100.0%" in text


def test_report_for_a_week_not_stored_or_not_ended_says_what_to_do(report_settings):
    with pytest.raises(CommandError, match=r"No numbers are stored for the week of .* Run a sync first"):
        call_command("send_weekly_report")
    with pytest.raises(CommandError, match="has not ended yet"):
        call_command("send_weekly_report", "--week", weeks.current_week_start().isoformat())
    with pytest.raises(CommandError, match="is not a date"):
        call_command("send_weekly_report", "--week", "last monday")


def test_without_recipients_or_mail_the_command_fails_with_the_setting_to_fix(settings):
    _store(reports.last_complete_week(), 10)
    with pytest.raises(CommandError, match="VISITORSYNC_REPORT_RECIPIENTS is empty"):
        call_command("send_weekly_report")
    settings.VISITORSYNC_REPORT_RECIPIENTS = RECIPIENTS
    settings.EMAIL_CONFIGURED = False
    with pytest.raises(CommandError, match="EMAIL_URL is not set, so no mail can be sent"):
        call_command("send_weekly_report")


def test_a_refusing_mail_server_is_recorded_and_the_next_send_delivers(smtp_server, report_settings):
    week = reports.last_complete_week()
    _store(week, 10)
    smtp_server.refuse = True
    with pytest.raises(CommandError, match="The mail server did not take the report"):
        call_command("send_weekly_report")
    assert set(ReportDelivery.objects.values_list("status", flat=True)) == {"failed"}
    smtp_server.refuse = False
    call_command("send_weekly_report", stdout=StringIO())
    assert len(smtp_server.messages) == 2
    assert ReportDelivery.objects.filter(week_start=week, status="sent").count() == 2


def test_cron_endpoint_sends_the_report_with_report_1_once(
    client, posthog_stub, smtp_server, report_settings
):
    report_settings.CRON_SECRET = CRON_SECRET
    auth = {"HTTP_AUTHORIZATION": f"Bearer {CRON_SECRET}"}
    response = client.post("/api/cron/sync-visitors?report=1", **auth)
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    week = WeeklyMetric.objects.get(week_start=reports.last_complete_week())
    # The answer says who the report is queued for; the mail follows the answer (the test
    # client, like a WSGI server, closes the response: the sends are done when it returns).
    assert body["ok"] and body["report"] == {
        "ok": True, "week": week.week_start.isoformat(), "visitors": week.visitors,
        "pageviews": week.pageviews, "metrics": {"visitors": week.visitors, "pageviews": week.pageviews},
        "confirmed": True, "sent": 0, "queued": 2, "already_sent": 0,
    }  # fmt: skip
    assert len(smtp_server.messages) == 2
    again = client.post("/api/cron/sync-visitors?report=1", **auth).json()
    assert again["report"]["queued"] == 0 and again["report"]["already_sent"] == 2
    assert len(smtp_server.messages) == 2
    plain = client.post("/api/cron/sync-visitors", **auth).json()
    assert "report" not in plain
    bad = client.post("/api/cron/sync-visitors?report=maybe", **auth)
    assert (
        bad.status_code == HTTPStatus.BAD_REQUEST
        and "report='maybe' is not a yes/no value" in bad.json()["error"]
    )


def test_cron_report_failure_keeps_the_sync_answer_200(client, posthog_stub, settings):
    settings.CRON_SECRET = CRON_SECRET
    settings.VISITORSYNC_REPORT_RECIPIENTS = []
    response = client.post(
        "/api/cron/sync-visitors", {"report": "1"}, HTTP_AUTHORIZATION=f"Bearer {CRON_SECRET}"
    )
    assert response.status_code == HTTPStatus.OK
    assert response.json()["report"]["ok"] is False
    assert "VISITORSYNC_REPORT_RECIPIENTS is empty" in response.json()["report"]["error"]


def test_crontab_job_sends_the_report_and_logs_a_failure(smtp_server, report_settings, caplog):
    from metrics.jobs import crontab

    crontab.weekly_report_job()  # nothing stored: logged, not raised
    assert "weekly report not sent: No numbers are stored" in caplog.text
    _store(reports.last_complete_week(), 10)
    crontab.weekly_report_job()
    crontab.weekly_report_job()
    assert len(smtp_server.messages) == 2


def test_a_send_left_half_done_by_a_dead_process_is_taken_over_later(smtp_server, report_settings):
    from django.utils import timezone

    week = reports.last_complete_week()
    _store(week, 10)
    ReportDelivery.objects.create(week_start=week, recipient=RECIPIENTS[0], status="sending")
    call_command("send_weekly_report", stdout=StringIO())
    assert [r for rcpts, _ in smtp_server.messages for r in rcpts] == [RECIPIENTS[1]]  # maybe still sending
    ReportDelivery.objects.filter(status="sending").update(created_at=timezone.now() - dt.timedelta(hours=1))
    call_command("send_weekly_report", stdout=StringIO())
    assert len(smtp_server.to(RECIPIENTS[0])) == 1
    assert ReportDelivery.objects.filter(week_start=week, status="sent").count() == 2
