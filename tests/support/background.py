"""Waiting for syncs started in the background: the `background_syncs` fixture (conftest.py).

The fixture sets TASKS to `RecordingThreadBackend`, production's ThreadBackend that also
notes each thread it starts, so a test can wait until a sync's thread has ended (it has run
the sync, the alert check after it, and closed its database connections) without
production code keeping a list of its threads for tests.
"""

import threading
import time

from django_tasks import TaskResult

from metrics.jobs.thread_backend import ThreadBackend
from metrics.models import SyncRun

BACKEND = "tests.support.background.RecordingThreadBackend"


class RecordingThreadBackend(ThreadBackend):
    """ThreadBackend, noting (task arguments, thread) for each task it starts.

    Class-wide, since every thread that enqueues (the test's, a live server's) gets its own
    backend instance."""

    started: list[tuple[list, threading.Thread]] = []
    _lock = threading.Lock()

    def start_thread(self, result: TaskResult) -> threading.Thread:
        thread = super().start_thread(result)
        with self._lock:
            self.started.append((list(result.args), thread))
        return thread

    @classmethod
    def forget(cls) -> None:
        with cls._lock:
            cls.started.clear()

    @classmethod
    def threads(cls) -> list[threading.Thread]:
        with cls._lock:
            return [thread for _, thread in cls.started]

    @classmethod
    def threads_of_run(cls, run_id: int) -> list[threading.Thread]:
        """The threads started for the task `run_claimed_sync(run_id)`."""
        with cls._lock:
            return [thread for args, thread in cls.started if args == [run_id]]


def join_all(threads: list[threading.Thread], *, timeout: float) -> list[threading.Thread]:
    """Join each thread within `timeout` seconds in all; the ones still running."""
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [thread for thread in threads if thread.is_alive()]


class BackgroundSyncs:
    def wait_until_finished(self, run_id: int, *, timeout: float = 30.0) -> SyncRun:
        """Wait until the background thread that runs this sync has ended; the run, reread.

        Fails unless exactly one thread was started for the run, it ended within `timeout`
        seconds, and the run is no longer running."""
        threads = RecordingThreadBackend.threads_of_run(run_id)
        assert len(threads) == 1, f"sync #{run_id} was started in {len(threads)} background threads"
        running = join_all(threads, timeout=timeout)
        assert not running, f"sync #{run_id}'s thread still runs after {timeout} s"
        run = SyncRun.objects.get(pk=run_id)
        assert run.status != SyncRun.Status.RUNNING, f"sync #{run_id}'s thread ended, the run still runs"
        return run
