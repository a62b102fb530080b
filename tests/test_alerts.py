"""Alerts: start once, resolve once, by mail (real SMTP on loopback) and by webhook (loopback)."""

import datetime as dt
from http import HTTPStatus

import pytest
from django.utils import timezone

from metrics import jobs, reports, tracker
from metrics.core import weeks
from metrics.models import Alert, SyncRun, WebhookDelivery, WeeklyMetric
from metrics.reports import alerts
from tests.support.mailserver import free_port

pytestmark = pytest.mark.django_db(transaction=True)

ALERT_TO = ["ops@example.test"]


@pytest.fixture
def channels(settings, smtp_server, alert_hook):
    settings.VISITORSYNC_ALERT_RECIPIENTS = ALERT_TO
    return smtp_server, alert_hook


def _sync() -> SyncRun | None:
    try:
        # Through the job, as every door syncs: the alert check runs after the sync.
        return jobs.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND))
    except tracker.SyncFailed:
        return None


def _texts(smtp_server, hook) -> tuple[list[str], list[str]]:
    return [m["Subject"] for _, m in smtp_server.messages], [p["text"].splitlines()[0] for p in hook.posts]


def test_failed_sync_alerts_once_by_mail_and_webhook_and_the_next_success_resolves(posthog_stub, channels):
    smtp_server, hook = channels
    posthog_stub.fail_next(HTTPStatus.UNAUTHORIZED)
    assert _sync() is None
    subjects, posts = _texts(smtp_server, hook)
    assert subjects == ["[visitorsync] Sync failed"] and posts == ["[visitorsync] Sync failed"]
    [(rcpts, message)] = smtp_server.messages
    run = SyncRun.objects.get()
    assert rcpts == ALERT_TO
    assert (
        f"Sync #{run.pk} (Management command) failed: PostHog rejected the API key" in message.get_content()
    )
    assert f"/admin/metrics/syncrun/{run.pk}/change/" in hook.posts[0]["text"]

    posthog_stub.fail_next(HTTPStatus.UNAUTHORIZED)
    assert _sync() is None
    assert len(smtp_server.messages) == 1 and len(hook.posts) == 1

    assert _sync() is not None
    subjects, posts = _texts(smtp_server, hook)
    assert subjects[1:] == ["[visitorsync] Resolved: Sync failed"] and posts[1:] == subjects[1:]
    alert = Alert.objects.get()
    assert alert.resolved_at is not None and set(alert.sent_by_phase()) == {"start", "resolved"}


def test_a_failing_webhook_never_breaks_the_sync_and_is_retried_at_the_next_check(posthog_stub, channels):
    smtp_server, hook = channels
    hook.status = HTTPStatus.INTERNAL_SERVER_ERROR
    posthog_stub.fail_next(HTTPStatus.UNAUTHORIZED)
    assert _sync() is None  # fails for PostHog's reason, not the webhook's
    alert = Alert.objects.get()
    assert "webhook: The alert webhook at http://127.0.0.1:" in alert.last_error
    assert "answered 500" in alert.last_error and "secretpath" not in alert.last_error
    assert set(alert.sent_by_phase()["start"]) == {"mail"} and len(smtp_server.messages) == 1

    hook.status = HTTPStatus.OK
    hook.delay = 3.0  # past VISITORSYNC_ALERT_WEBHOOK_TIMEOUT (1 s)
    alerts.check()
    alert.refresh_from_db()
    assert "did not answer within 1 s" in alert.last_error and hook.posts == []

    hook.delay = 0
    alerts.check()
    alert.refresh_from_db()
    assert alert.last_error == "" and set(alert.sent_by_phase()["start"]) == {"mail", "webhook"}
    assert [p["text"].splitlines()[0] for p in hook.posts] == ["[visitorsync] Sync failed"]
    assert len(smtp_server.messages) == 1  # mail is not sent twice


def test_a_mail_server_that_is_down_never_breaks_a_sync(posthog_stub, settings, alert_hook):
    settings.VISITORSYNC_ALERT_RECIPIENTS = ALERT_TO
    settings.EMAIL_CONFIGURED = True
    settings.EMAIL_BACKEND = "metrics.reports.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2.0
    posthog_stub.fail_next(HTTPStatus.UNAUTHORIZED)
    assert _sync() is None
    alert = Alert.objects.get()
    assert alert.last_error.startswith("mail: ConnectionRefusedError")
    assert set(alert.sent_by_phase()["start"]) == {"webhook"}
    assert _sync() is not None  # a success, with the resolve message also failing by mail
    assert SyncRun.objects.filter(status="succeeded").count() == 1


def _store(week: dt.date, visitors: int) -> None:
    WeeklyMetric.objects.update_or_create(
        week_start=week, defaults={"visitors": visitors, "pageviews": visitors}
    )


def test_sharp_drop_starts_once_repeats_nothing_resolves_once_and_starts_again(channels, settings):
    smtp_server, hook = channels
    week = reports.last_complete_week()
    _store(week - weeks.ONE_WEEK, 100)
    _store(week, 40)  # -60%, beyond the default 50%
    alerts.check()
    alerts.check()
    subjects, posts = _texts(smtp_server, hook)
    assert subjects == ["[visitorsync] Sharp drop in visitors"] == posts
    assert "fell to 40 from 100 the week before (-60%" in hook.posts[0]["text"]

    _store(week, 60)  # -40%: cleared
    alerts.check()
    alerts.check()
    subjects, posts = _texts(smtp_server, hook)
    assert subjects[1:] == ["[visitorsync] Resolved: Sharp drop in visitors"] == posts[1:]

    _store(week, 10)
    alerts.check()
    subjects, _ = _texts(smtp_server, hook)
    assert subjects[2:] == ["[visitorsync] Sharp drop in visitors"]
    assert Alert.objects.filter(kind="drop").count() == 2
    assert Alert.objects.filter(kind="drop", resolved_at__isnull=True).count() == 1


def test_stale_and_quiet_webhook_alert_and_resolve(channels, settings):
    smtp_server, hook = channels
    now = timezone.now()
    SyncRun.objects.create(
        trigger="command", status="succeeded", started_at=now - dt.timedelta(days=3),
        finished_at=now - dt.timedelta(days=3),
    )  # fmt: skip
    WebhookDelivery.objects.create(
        key=WebhookDelivery.key_for("k1"),
        week_start=weeks.current_week_start(),
        received_at=now - dt.timedelta(hours=30),
    )
    alerts.check()
    assert sorted(_texts(smtp_server, hook)[0]) == [
        "[visitorsync] No successful sync",
        "[visitorsync] Webhook quiet",
    ]
    quiet = Alert.objects.get(kind="webhook_quiet").message
    assert "more than 24 hours, VISITORSYNC_ALERT_QUIET_HOURS" in quiet

    WebhookDelivery.objects.create(
        key=WebhookDelivery.key_for("k2"), week_start=weeks.current_week_start(), received_at=now
    )
    SyncRun.objects.create(trigger="command", status="succeeded", finished_at=now)
    alerts.check()
    assert sorted(_texts(smtp_server, hook)[0][2:]) == [
        "[visitorsync] Resolved: No successful sync",
        "[visitorsync] Resolved: Webhook quiet",
    ]


@pytest.mark.parametrize("age", [dt.timedelta(hours=25), dt.timedelta(days=5), dt.timedelta(days=40)])
def test_quiet_webhook_names_the_last_delivery_however_long_ago(settings, age):
    # The last delivery is looked for in growing windows, the last unbounded (rows a sync
    # has not pruned yet): each finds the newest of the rows, not the newest of a window.
    settings.VISITORSYNC_WEBHOOK_RETENTION_WEEKS = 2
    now = timezone.now()
    last = now - age
    for key, received in (("older", last - dt.timedelta(hours=3)), ("last", last)):
        WebhookDelivery.objects.create(
            key=WebhookDelivery.key_for(key), week_start=weeks.week_start_for(received), received_at=received
        )
    alerts.check(now=now)
    message = Alert.objects.get(kind="webhook_quiet").message
    assert f"since {timezone.localtime(last):%Y-%m-%d %H:%M %Z}" in message, message


def test_no_alert_before_the_first_success_for_staleness_and_none_without_channels(settings):
    alerts.check()
    assert not Alert.objects.exists()  # never synced: the failed-sync alert and /api/sync speak
    settings.VISITORSYNC_ALERT_RECIPIENTS = []
    settings.VISITORSYNC_ALERT_WEBHOOK_URL = ""
    week = reports.last_complete_week()
    _store(week - weeks.ONE_WEEK, 100)
    _store(week, 1)
    alerts.check()
    alert = Alert.objects.get()
    assert alert.sent_by_phase() == {} and alert.last_error == ""  # state kept, nothing to send it by


def test_a_crash_in_the_alert_check_is_logged_and_the_sync_result_stands(posthog_stub, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("bug in a condition")

    monkeypatch.setattr(alerts, "conditions", broken)
    run = _sync()
    assert run is not None and run.status == SyncRun.Status.SUCCEEDED
    assert "alert check after a sync failed; it runs again at the next sync" in caplog.text
