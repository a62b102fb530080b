"""The default Tasks backend: each task in a thread of this process (one small server)."""

import logging
import threading

from django.db import connections
from django.utils import timezone
from django_tasks import TaskResult, TaskResultStatus
from django_tasks.backends.base import BaseTaskBackend
from django_tasks.utils import get_random_id

logger = logging.getLogger(__name__)


class ThreadBackend(BaseTaskBackend):
    """A Tasks backend that runs each task in a new thread of this process.

    Not a daemon thread: a server that shuts down gracefully lets the sync finish (it is
    bounded by PostHog's timeouts). If the process dies, the run stops beating its heartbeat
    and its lock is freed as abandoned (VISITORSYNC_SYNC_ABANDON_AFTER); with a worker
    (`VISITORSYNC_TASK_BACKEND=database`) the sync survives the web process instead.
    """

    supports_async_task = False

    def enqueue(self, task, args, kwargs) -> TaskResult:
        self.validate_task(task)
        result = TaskResult(
            task=task,
            id=get_random_id(),
            status=TaskResultStatus.READY,
            enqueued_at=timezone.now(),
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        self.start_thread(result)
        return result

    def start_thread(self, result: TaskResult) -> threading.Thread:
        """Start the thread that runs the task of `result` (named after its id) and return it."""
        thread = threading.Thread(
            target=_run,
            args=(result.task, result.args, result.kwargs),
            name=f"visitorsync-task-{result.id[:8]}",
        )
        thread.start()
        return thread


def _run(task, args, kwargs) -> None:
    try:
        task.call(*args, **kwargs)
    except Exception:
        logger.exception("background task %s crashed", task.module_path)
    finally:
        # This thread opened its own database connections; nobody else will close them.
        connections.close_all()
