"""Run a claimed sync in a background thread, so a web request can return at once.

The admin page claims the lock in the request (a conflict is answered immediately), then
hands the `PendingSync` here. The thread records everything on the SyncRun row, which the
page polls; nothing is returned to the request. Threads are kept in a registry so tests
(and a graceful shutdown) can wait for them instead of sleeping.
"""

import logging
import threading

from django.db import connections

from metrics import tracker

logger = logging.getLogger(__name__)

_threads: dict[int, threading.Thread] = {}
_registry_lock = threading.Lock()


def execute_in_background(pending: tracker.PendingSync) -> threading.Thread:
    """Start `pending.execute()` in a new thread and return the thread.

    Not a daemon thread: a server that shuts down gracefully lets the sync finish (it is
    bounded by PostHog's timeouts). If the process dies, the run stops reporting progress
    and its lock is freed as abandoned (VISITORSYNC_SYNC_ABANDON_AFTER).
    """
    run_id = pending.run.pk
    thread = threading.Thread(target=_run, args=(pending,), name=f"visitorsync-sync-{run_id}")
    with _registry_lock:
        _forget_finished()
        _threads[run_id] = thread
    thread.start()
    return thread


def wait_for(run_id: int, timeout: float | None = None) -> bool:
    """Wait until the background sync of this run has finished; False if it still runs."""
    with _registry_lock:
        thread = _threads.get(run_id)
    if thread is None:
        return True
    thread.join(timeout)
    return not thread.is_alive()


def _run(pending: tracker.PendingSync) -> None:
    try:
        pending.execute()
    except tracker.TrackerError:
        pass  # recorded on the SyncRun (status, error) and logged by the tracker
    except Exception:
        logger.exception("background sync run=%s crashed", pending.run.pk)
    finally:
        # This thread opened its own database connections; nobody else will close them.
        connections.close_all()


def _forget_finished() -> None:
    for run_id in [run_id for run_id, thread in _threads.items() if not thread.is_alive()]:
        del _threads[run_id]
