"""How fast a sync gives its lock back after the database drops, and after its process is killed.

Runs `manage.py sync_visitors` as its own process against a fresh PostgreSQL database behind a
TCP proxy (tests/support/tcp_proxy.py) and the loopback PostHog stub, and prints:

1. seconds from cutting the database for one second, while a sync waits on PostHog, to the
   failure being recorded and the lock free (median of --runs);
2. seconds from `kill -9` of a sync that waits on PostHog to the status (what `/api/sync`
   answers: `jobs.get_sync_status()`, read here every 0.1 s in this process, with nothing else
   touching the lock) showing it abandoned and unhealthy, not running;
3. seconds from `kill -9` of a sync that waits on PostHog to the next sync being allowed,
   with VISITORSYNC_SYNC_ABANDON_AFTER at --abandon-after (default: the setting's default).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/sync_lock_recovery.py
    .venv/bin/python bench/sync_lock_recovery.py --runs 1 --abandon-after 30
"""

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.sync_outage import outage_stack, wait_for_query


def cut_to_recorded(stack, log_dir: Path, runs: int) -> list[float]:
    seconds = []
    for index in range(runs):
        stack.stub.latency = 2.0
        stack.stub.query_received.clear()
        process = stack.start_sync(log_dir / f"cut-{index}.log")
        wait_for_query(stack.stub)
        run_id = max(run[0] for run in stack.runs())
        stack.proxy.cut()
        cut_at = time.monotonic()
        time.sleep(1.0)
        stack.proxy.restore()
        if stack.wait_for_run_to_end(run_id, timeout=120) is None:
            raise SystemExit(f"run {run_id} was still running 120 s after the cut")
        seconds.append(time.monotonic() - cut_at)
        process.wait(timeout=60)
    return seconds


def read_status(stack):
    """`jobs.get_sync_status` against the stack's database (directly, not through the proxy),
    as the status endpoint calls it, with the stack's settings."""
    # The stack's settings, with the database directly rather than through the proxy.
    os.environ.update(
        stack.env(), DATABASE_URL=stack.database_url, DJANGO_SETTINGS_MODULE="visitorsync.settings"
    )
    import django

    django.setup()
    from metrics import jobs

    return jobs.get_sync_status


def kill_to_shown_abandoned(stack, log_dir: Path, get_sync_status) -> float:
    stack.stub.latency = 600.0  # the sync waits on PostHog until it is killed
    stack.stub.query_received.clear()
    process = stack.start_sync(log_dir / "killed-status.log")
    wait_for_query(stack.stub)
    run_id = max(run[0] for run in stack.runs())
    status = get_sync_status()
    assert status.running is not None and status.running.pk == run_id and not status.abandoned
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    killed_at = time.monotonic()
    while True:
        status = get_sync_status()
        if status.running is None:
            assert status.abandoned and not status.healthy and status.last_run.pk == run_id
            return time.monotonic() - killed_at
        if time.monotonic() - killed_at > 3600:
            raise SystemExit("the killed sync still showed as running after an hour")
        time.sleep(0.1)


def kill_to_allowed(stack, log_dir: Path) -> float:
    stack.stub.latency = 600.0  # the sync waits on PostHog until it is killed
    stack.stub.query_received.clear()
    process = stack.start_sync(log_dir / "killed.log")
    wait_for_query(stack.stub)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    killed_at = time.monotonic()
    stack.stub.latency = 0.0
    while True:
        if stack.sync().returncode == 0:
            return time.monotonic() - killed_at
        if time.monotonic() - killed_at > 3600:
            raise SystemExit("the killed sync still held the lock after an hour")
        time.sleep(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="database cuts to time")
    parser.add_argument("--abandon-after", type=int, default=None, help="VISITORSYNC_SYNC_ABANDON_AFTER")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    settings = {"VISITORSYNC_BACKFILL_WEEKS": "4"}
    if args.abandon_after is not None:
        settings["VISITORSYNC_SYNC_ABANDON_AFTER"] = str(args.abandon_after)
    with tempfile.TemporaryDirectory() as tmp, outage_stack(url, **settings) as stack:
        assert stack.sync().returncode == 0
        cuts = cut_to_recorded(stack, Path(tmp), args.runs)
        print(
            f"database cut for 1 s while a sync waits on PostHog -> failure recorded, lock free: "
            f"median {statistics.median(cuts):.2f} s, max {max(cuts):.2f} s over {len(cuts)} runs "
            "(measured from the start of the cut)"
        )
        limit = settings.get("VISITORSYNC_SYNC_ABANDON_AFTER", "default")
        shown = kill_to_shown_abandoned(stack, Path(tmp), read_status(stack))
        print(
            f"kill -9 of a sync waiting on PostHog -> status shows it abandoned (healthy false, "
            f"not running): {shown:.1f} s (abandon limit: {limit})"
        )
        allowed = kill_to_allowed(stack, Path(tmp))
        print(
            f"kill -9 of a sync waiting on PostHog -> next sync allowed: {allowed:.1f} s "
            f"(abandon limit: {limit})"
        )


if __name__ == "__main__":
    main()
