"""A running sync whose heartbeat stopped longer ago than VISITORSYNC_SYNC_ABANDON_AFTER is
dead: whoever reads it first (the status endpoint, the command, the admin) records it
abandoned, and nobody shows it as running. The killed-process version is tests/test_dead_worker.py.
"""

import datetime as dt
import threading
from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from metrics import jobs, tracker
from metrics.jobs import tasks
from metrics.models import SyncRun
from metrics.tracker import lock

LIMIT = 30


@pytest.fixture
def limit(settings):
    settings.VISITORSYNC_SYNC_ABANDON_AFTER = LIMIT
    return settings


def running_run(*, heartbeat_age: float) -> SyncRun:
    beat = timezone.now() - dt.timedelta(seconds=heartbeat_age)
    return SyncRun.objects.create(
        trigger=SyncRun.Trigger.ADMIN, phase="Asking PostHog", started_at=beat, heartbeat_at=beat
    )


def recent_success(*, age: float = 0) -> SyncRun:
    at = timezone.now() - dt.timedelta(seconds=age)
    return SyncRun.objects.create(
        trigger=SyncRun.Trigger.CRON, status=SyncRun.Status.SUCCEEDED, started_at=at, finished_at=at
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("endpoint_secrets", "limit")
def test_the_status_shows_a_dead_run_abandoned_at_once_and_unhealthy(client, posthog_stub):
    recent_success(age=3600)
    live = running_run(heartbeat_age=LIMIT - 5)
    body = client.get("/api/sync").json()
    assert body["running"]["id"] == live.pk and body["healthy"] is True and body["abandoned"] is False

    SyncRun.objects.filter(pk=live.pk).update(heartbeat_at=timezone.now() - dt.timedelta(seconds=LIMIT + 1))
    body = client.get("/api/sync").json()
    assert body["running"] is None
    assert body["abandoned"] is True and body["healthy"] is False
    assert body["last_run"]["id"] == live.pk
    assert body["last_run"]["failed"] is True and body["last_run"]["abandoned"] is True
    assert body["failure_count"] == 1
    run = SyncRun.objects.get(pk=live.pk)
    assert (run.status, run.phase, run.abandoned) == (SyncRun.Status.FAILED, "Abandoned", True)
    assert run.error == (
        f"Abandoned: no progress for {LIMIT} seconds (VISITORSYNC_SYNC_ABANDON_AFTER); its process "
        "probably stopped. No number was changed by it. It is not retried: the next scheduled sync "
        "(or one started by hand) syncs the same weeks."
    )
    # Recorded once: reading again changes nothing.
    finished_at = run.finished_at
    client.get("/api/sync")
    assert SyncRun.objects.get(pk=live.pk).finished_at == finished_at

    # The next sync that succeeds makes it healthy again; an ordinary failure does not count as
    # abandoned.
    recent_success()
    assert client.get("/api/sync").json()["healthy"] is True


@pytest.mark.django_db
@pytest.mark.usefixtures("endpoint_secrets", "limit")
def test_recording_a_dead_run_costs_the_status_one_query(client, django_assert_num_queries):
    running_run(heartbeat_age=LIMIT - 5)
    with django_assert_num_queries(5):
        assert client.get("/api/sync").json()["running"] is not None
    SyncRun.objects.update(heartbeat_at=timezone.now() - dt.timedelta(seconds=LIMIT + 1))
    with django_assert_num_queries(6):
        assert client.get("/api/sync").json()["abandoned"] is True


@pytest.mark.django_db
@pytest.mark.usefixtures("limit")
def test_the_status_command_shows_it_failed_not_running(capsys):
    dead = running_run(heartbeat_age=LIMIT + 1)
    call_command("sync_visitors", "--status")
    out = capsys.readouterr().out
    assert "Running: none" in out
    assert f"Last run: #{dead.pk} Admin page" in out and "Failed: Abandoned: no progress" in out


@pytest.mark.django_db
@pytest.mark.usefixtures("limit")
def test_the_admin_s_progress_and_history_show_a_dead_run_abandoned(admin_client):
    dead = running_run(heartbeat_age=LIMIT + 1)
    progress = admin_client.get(reverse("admin:metrics_weeklymetric_sync_progress", args=[dead.pk]))
    assert progress.status_code == HTTPStatus.OK
    body = progress.json()
    assert (body["status"], body["phase"]) == ("failed", "Abandoned")
    assert "Abandoned: no progress" in body["error"] and "result_html" in body

    other = running_run(heartbeat_age=LIMIT + 1)  # nobody polls this one: the history shows it
    page = admin_client.get(reverse("admin:metrics_syncrun_changelist")).content.decode()
    assert SyncRun.objects.get(pk=other.pk).abandoned
    assert 'vs-status-running"' not in page

    page = admin_client.get(reverse("admin:metrics_weeklymetric_sync")).content.decode()
    assert "has been running since" not in page
    assert f"Sync #{other.pk} stopped without finishing" in page and "It is not retried" in page


@pytest.mark.django_db
@pytest.mark.usefixtures("limit")
def test_a_run_that_comes_back_after_being_abandoned_keeps_the_record(posthog_stub):
    run = running_run(heartbeat_age=LIMIT + 1)
    assert lock.abandon_if_dead(run) is True
    lock.heartbeat(run, done=3, phase="Asking PostHog")  # the slow process, still going
    stored = SyncRun.objects.get(pk=run.pk)
    assert (stored.status, stored.phase, stored.weeks_done) == (SyncRun.Status.FAILED, "Abandoned", 0)
    assert lock.abandon_if_dead(stored) is False  # already recorded


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("limit")
def test_of_several_readers_at_once_exactly_one_records_a_dead_run():
    dead = running_run(heartbeat_age=LIMIT + 1)
    readers = 6
    start = threading.Barrier(readers)
    recorded: list[bool] = []
    problems: list[BaseException] = []

    def read() -> None:
        try:
            run = SyncRun.objects.get(pk=dead.pk)
            start.wait(timeout=30)
            recorded.append(lock.abandon_if_dead(run))
            assert run.status == SyncRun.Status.FAILED and run.abandoned
        except BaseException as err:  # reported by the test thread
            problems.append(err)
        finally:
            connection.close()

    threads = [threading.Thread(target=read) for _ in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not problems, problems
    assert sorted(recorded) == [False] * (readers - 1) + [True]


@pytest.mark.django_db
@pytest.mark.usefixtures("limit")
def test_with_the_thread_backend_no_task_result_is_looked_up(django_assert_num_queries):
    running_run(heartbeat_age=LIMIT + 1)
    with django_assert_num_queries(0):
        assert tasks.fail_results_of_abandoned_runs() == 0
    jobs.record_abandoned_runs()
    assert tracker.get_sync_status().abandoned
