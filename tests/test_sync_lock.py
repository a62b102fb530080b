"""One lock for every trigger: concurrent cron requests over real HTTP, and mixed triggers."""

import concurrent.futures
import threading
from http import HTTPStatus

import pytest
import requests
from django.core.management import CommandError, call_command

from metrics.jobs import crontab
from metrics.models import SyncRun, WeeklyMetric

SECRET = "lock-test-secret-0123456789"
CLIENTS = 10


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_cron_requests_run_exactly_one_sync(live_server, posthog_stub, settings):
    """The winner's PostHog query is held open until every loser has its 409: losers never wait."""
    settings.CRON_SECRET = SECRET
    settings.DEBUG = False
    release = threading.Event()
    posthog_stub.barrier_before_answer = release
    start = threading.Barrier(CLIENTS)

    def call() -> requests.Response:
        start.wait(timeout=30)
        return requests.post(
            f"{live_server.url}/api/cron/sync-visitors",
            headers={"Authorization": f"Bearer {SECRET}"},
            timeout=60,
        )

    with concurrent.futures.ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        futures = [pool.submit(call) for _ in range(CLIENTS)]
        try:
            # The nine losers answer while the winner is stuck inside PostHog's answer; if the
            # lock let two through, fewer than nine finish and as_completed times out.
            losers = []
            for future in concurrent.futures.as_completed(futures, timeout=60):
                losers.append(future.result())
                if len(losers) == CLIENTS - 1:
                    break
            still_running = [f for f in futures if not f.done()]
            assert len(still_running) == 1, "exactly one request is still inside its sync"
            assert [r.status_code for r in losers] == [HTTPStatus.CONFLICT] * (CLIENTS - 1)
            holder = SyncRun.objects.get(status=SyncRun.Status.RUNNING)
            for response in losers:
                assert response.json()["running"]["id"] == holder.pk
                assert response.json()["running"]["trigger"] == "cron"
        finally:
            release.set()
        winner = still_running[0].result(timeout=60)

    assert winner.status_code == HTTPStatus.OK, winner.text
    assert winner.json()["run"]["id"] == holder.pk
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert posthog_stub.query_count == 1
    assert WeeklyMetric.objects.count() == 12


@pytest.mark.django_db
def test_every_trigger_shares_the_lock(client, settings, posthog_stub):
    """A sync held by one door refuses the cron endpoint, the command and the crontab job."""
    settings.CRON_SECRET = SECRET
    holder = SyncRun.objects.create(trigger=SyncRun.Trigger.ADMIN, started_by="ana")

    response = client.post("/api/cron/sync-visitors", HTTP_AUTHORIZATION=f"Bearer {SECRET}")
    assert response.status_code == HTTPStatus.CONFLICT
    with pytest.raises(CommandError, match=f"Sync #{holder.pk} \\(Admin page, by ana\\)"):
        call_command("sync_visitors")
    crontab.sync_visitors_job()  # logs, does not raise

    assert SyncRun.objects.count() == 1
    assert posthog_stub.query_count == 0
