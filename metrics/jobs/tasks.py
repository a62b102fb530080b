"""Work that runs outside the web request, through Django's Tasks interface.

The django-tasks backport of Django 6's `django.tasks`: `TASKS` in the settings decides
where a task runs (`VISITORSYNC_TASK_BACKEND`): a thread of the web process (the default,
for one small server) or a `manage.py db_worker` process reading a queue in the database.
"""

import contextlib

from django_tasks import task

from metrics import tracker
from metrics.jobs import syncs


@task()
def run_claimed_sync(run_id: int) -> None:
    """Run the sync whose lock the admin page took; everything is recorded on its SyncRun."""
    # A failure is recorded on the SyncRun (status, error) and logged by the tracker.
    with contextlib.suppress(tracker.TrackerError):
        syncs.execute_claimed_sync(run_id)
