"""Work that runs outside the web request, through Django's Tasks interface.

The django-tasks backport of Django 6's `django.tasks`: `TASKS` in the settings decides
where a task runs (`VISITORSYNC_TASK_BACKEND`): a thread of the web process (the default,
for one small server) or a `manage.py db_worker` process reading a queue in the database.
"""

import contextlib
import logging

from django.apps import apps
from django.utils import timezone
from django_tasks import TaskResultStatus, task

from metrics import tracker
from metrics.jobs import syncs
from metrics.models import SyncRun

logger = logging.getLogger(__name__)


@task()
def run_claimed_sync(run_id: int) -> None:
    """Run the sync whose lock the admin page took; everything is recorded on its SyncRun."""
    # A failure is recorded on the SyncRun (status, error) and logged by the tracker.
    with contextlib.suppress(tracker.TrackerError):
        syncs.execute_claimed_sync(run_id)


def fail_results_of_abandoned_runs() -> int:
    """Mark failed each `run_claimed_sync` result still RUNNING whose sync was recorded
    abandoned; returns how many. Nothing else would: a worker killed mid-task never comes back
    to it, and `db_worker` only picks up READY tasks.

    Only the database backend (django-tasks-db) keeps results; with the thread backend this
    costs no query. A conditional UPDATE each, so a worker that was only slow and finishes
    after all still records its own outcome over this one.
    """
    if not apps.is_installed("django_tasks_db"):
        return 0
    from django_tasks_db.models import DBTaskResult  # importable only with the app installed

    results = DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING, task_path=run_claimed_sync.module_path
    )
    run_of = {pk: args_kwargs["args"][0] for pk, args_kwargs in results.values_list("pk", "args_kwargs")}
    if not run_of:
        return 0
    abandoned = {
        run.pk: run
        for run in SyncRun.objects.filter(
            pk__in=set(run_of.values()), status=SyncRun.Status.FAILED, phase=SyncRun.ABANDONED_PHASE
        )
    }
    marked = 0
    for result_id, run_id in run_of.items():
        run = abandoned.get(run_id)
        if run is None:
            continue
        marked += results.filter(pk=result_id).update(
            status=TaskResultStatus.FAILED,
            finished_at=timezone.now(),
            return_value=None,
            exception_class_path=f"{tracker.SyncFailed.__module__}.{tracker.SyncFailed.__qualname__}",
            traceback=f"Sync #{run.pk} failed: {run.error}\n",
        )
        logger.warning("task %s of sync run=%s marked failed: the run was abandoned", result_id, run.pk)
    return marked
