"""Each alert message goes out once per channel, however many checks run at the same time.

Real threads behind a barrier (each closing its own connection), a real SMTP server and a
webhook receiver that answers slowly on loopback, on a file SQLite database and on PostgreSQL.
"""

import datetime as dt
import threading

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from metrics.core import weeks
from metrics.models import Alert, AlertDelivery, WeeklyMetric
from metrics.reports import alerts
from metrics.reports.claims import ABANDON_AFTER
from metrics.reports.weekly import last_complete_week

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = 6


@pytest.fixture
def slow_channels(settings, smtp_server, alert_hook):
    """Mail and a webhook that takes 0.5 s to answer (within its 1 s timeout), so checks overlap."""
    settings.VISITORSYNC_ALERT_RECIPIENTS = ["ops@example.test"]
    alert_hook.delay = 0.5
    return smtp_server, alert_hook


def _visitors(last_week: int) -> None:
    week = last_complete_week()
    WeeklyMetric.objects.update_or_create(
        week_start=week - weeks.ONE_WEEK, defaults={"visitors": 100, "pageviews": 100}
    )
    WeeklyMetric.objects.update_or_create(
        week_start=week, defaults={"visitors": last_week, "pageviews": last_week}
    )


def _concurrent_checks(count: int = CHECKS) -> None:
    barrier = threading.Barrier(count)
    crashed = []

    def check() -> None:
        try:
            barrier.wait(timeout=10)
            alerts.check()
        except Exception as err:  # pragma: no cover - shown by the assertion below
            crashed.append(err)
        finally:
            connection.close()

    threads = [threading.Thread(target=check) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not crashed and not any(thread.is_alive() for thread in threads)


def _firsts(smtp_server, hook) -> tuple[list[str], list[str]]:
    return [m["Subject"] for _, m in smtp_server.messages], [p["text"].splitlines()[0] for p in hook.posts]


def test_six_concurrent_checks_send_each_phase_of_an_alert_once_per_channel(slow_channels):
    smtp_server, hook = slow_channels
    _visitors(last_week=40)  # -60%: the sharp drop alert starts
    _concurrent_checks()
    subjects, posts = _firsts(smtp_server, hook)
    assert subjects == ["[visitorsync] Sharp drop in visitors"] == posts

    _visitors(last_week=90)  # cleared: every check resolves it, one message per channel
    _concurrent_checks()
    subjects, posts = _firsts(smtp_server, hook)
    assert subjects[1:] == ["[visitorsync] Resolved: Sharp drop in visitors"] == posts[1:]
    alert = Alert.objects.get()
    assert sorted(alert.deliveries.values_list("phase", "channel", "status")) == [
        ("resolved", "mail", "sent"), ("resolved", "webhook", "sent"),
        ("start", "mail", "sent"), ("start", "webhook", "sent"),
    ]  # fmt: skip


def test_a_send_in_progress_is_left_alone_and_one_whose_sender_died_is_taken_over_once(slow_channels):
    smtp_server, hook = slow_channels
    _visitors(last_week=40)
    alert = Alert.objects.create(kind=Alert.Kind.DROP, message="Visitors fell.")
    for channel in ("mail", "webhook"):
        AlertDelivery.objects.create(alert=alert, phase="start", channel=channel)  # being sent now
    alerts.check()
    assert smtp_server.messages == [] and hook.posts == []

    AlertDelivery.objects.update(claimed_at=timezone.now() - ABANDON_AFTER - dt.timedelta(seconds=1))
    _concurrent_checks()
    subjects, posts = _firsts(smtp_server, hook)
    assert subjects == ["[visitorsync] Sharp drop in visitors"] == posts
    assert set(AlertDelivery.objects.values_list("status", flat=True)) == {"sent"}


def test_a_failed_channel_is_retried_once_by_concurrent_checks_and_the_sent_one_is_not(slow_channels):
    smtp_server, hook = slow_channels
    hook.status = 500
    _visitors(last_week=40)
    alerts.check()
    webhook = AlertDelivery.objects.get(channel="webhook")
    assert webhook.status == "failed" and "answered 500" in webhook.error
    hook.status = 200
    _concurrent_checks()
    _, posts = _firsts(smtp_server, hook)
    assert len(smtp_server.messages) == 1 and posts == ["[visitorsync] Sharp drop in visitors"]


def test_the_migration_keeps_what_was_sent_as_sent_deliveries():
    executor = MigrationExecutor(connection)
    executor.migrate([("metrics", "0004_reports_and_alerts")])
    old_apps = executor.loader.project_state([("metrics", "0004_reports_and_alerts")]).apps
    sent_at = timezone.now().replace(microsecond=0) - dt.timedelta(hours=2)
    old_apps.get_model("metrics", "Alert").objects.create(
        kind="sync_failed",
        message="Sync #1 failed.",
        resolved_at=sent_at,
        notified={"start": {"mail": sent_at.isoformat(), "webhook": sent_at.isoformat()},
                  "resolved": {"mail": sent_at.isoformat()}},
    )  # fmt: skip
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    alert = Alert.objects.get()
    assert alert.sent_by_phase() == {"resolved": ["mail"], "start": ["mail", "webhook"]}
    assert set(AlertDelivery.objects.values_list("sent_at", flat=True)) == {sent_at}
    call_command("makemigrations", "metrics", "--check", "--dry-run", verbosity=0)
