"""Hand a claimed sync to the task backend, so a web request can return at once.

The admin page claims the lock in the request (a conflict is answered immediately), then
enqueues `metrics.jobs.tasks.run_claimed_sync`. The task records everything on the SyncRun row,
which the page polls. With the default backend (`metrics.jobs.thread_backend.ThreadBackend`) it
runs in a thread of this process; with `VISITORSYNC_TASK_BACKEND=database`, in a worker.
"""

from metrics import tracker
from metrics.jobs import tasks


def execute_in_background(pending: tracker.PendingSync) -> None:
    """Enqueue the claimed sync; if the queue cannot take it, give the lock back at once."""
    try:
        tasks.run_claimed_sync.enqueue(pending.run.pk)
    except Exception as err:
        pending.cancel(reason=f"Could not start the sync in the background ({type(err).__name__}: {err}).")
        raise
