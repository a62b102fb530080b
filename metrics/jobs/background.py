"""Hand a claimed sync to the task backend, so a web request can return at once.

The admin page claims the lock in the request (a conflict is answered immediately), then
enqueues `metrics.jobs.tasks.run_claimed_sync`. The task records everything on the SyncRun row,
which the page polls. With the default backend (`metrics.jobs.thread_backend.ThreadBackend`) it
runs in a thread of this process, which tests (and a graceful shutdown) can wait for.
"""

import threading

from metrics import tracker
from metrics.jobs import tasks
from metrics.jobs.thread_backend import registered_thread

_results: dict[int, str] = {}  # run id -> task result id, newest last
_REMEMBERED = 100
_registry_lock = threading.Lock()


def execute_in_background(pending: tracker.PendingSync) -> None:
    """Enqueue the claimed sync; if the queue cannot take it, give the lock back at once."""
    try:
        result = tasks.run_claimed_sync.enqueue(pending.run.pk)
    except Exception as err:
        pending.cancel(reason=f"Could not start the sync in the background ({type(err).__name__}: {err}).")
        raise
    with _registry_lock:
        _results[pending.run.pk] = result.id
        while len(_results) > _REMEMBERED:  # one entry per admin-started sync: keep it bounded
            del _results[next(iter(_results))]


def wait_for(run_id: int, timeout: float | None = None) -> bool:
    """Wait until this run's task thread has finished; False if it still runs.

    True at once for a run this process did not start in a thread (a worker runs it)."""
    with _registry_lock:
        thread = registered_thread(_results.get(run_id, ""))
    if thread is None:
        return True
    thread.join(timeout)
    return not thread.is_alive()
