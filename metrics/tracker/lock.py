"""The sync lock: the one `running` SyncRun row, shared by every process and host.

A partial unique index allows at most one running row, so inserting it takes the lock on
SQLite and PostgreSQL alike. A live run beats its heartbeat every sixth of
`VISITORSYNC_SYNC_ABANDON_AFTER`, also while it waits on PostHog (`Heartbeat`, a thread with
its own database connection); a run whose heartbeat stopped for that long is presumed dead:
the first to look at it (the next claim, a status read, the admin) records it abandoned
(failed), and a claim then takes the lock. Nothing retries an abandoned sync.
"""

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, connections, transaction
from django.utils import timezone

from metrics.core.errors import SyncInProgress
from metrics.core.logsafe import loggable
from metrics.models import SyncRun

logger = logging.getLogger(__name__)

_FINISH_FIELDS = (
    "status", "error", "finished_at", "phase", "queries", "weeks_done", "weeks_checked",
    "weeks_created", "weeks_updated", "weeks_unchanged", "changes", "chunk_weeks",
)  # fmt: skip


def claim(
    *,
    trigger: str,
    dry_run: bool,
    forced: bool,
    started_by: str,
    first_week: dt.date,
    last_week: dt.date,
    weeks_total: int,
) -> SyncRun:
    """Insert the running SyncRun, which is the lock; raise SyncInProgress if it is held."""
    abandon_dead_runs()
    try:
        with transaction.atomic():
            return SyncRun.objects.create(
                status=SyncRun.Status.RUNNING,
                trigger=trigger,
                dry_run=dry_run,
                forced=forced,
                started_by=started_by,
                first_week=first_week,
                last_week=last_week,
                weeks_total=weeks_total,
            )
    except IntegrityError:
        holder = SyncRun.objects.filter(status=SyncRun.Status.RUNNING).first()
        if holder is None:  # released between our insert and this read: tell the caller
            raise SyncInProgress("Another sync just finished; try again.") from None
        raise SyncInProgress(
            f"Sync #{holder.pk} ({holder.get_trigger_display()}"
            f"{', by ' + holder.started_by if holder.started_by else ''}) has been running "
            f"since {timezone.localtime(holder.started_at):%Y-%m-%d %H:%M:%S %Z}; wait for it "
            "to finish.",
            run=holder,
        ) from None


def abandon_dead_runs() -> None:
    """Record abandoned every running sync whose heartbeat is older than the abandon limit."""
    for run in SyncRun.objects.filter(status=SyncRun.Status.RUNNING, heartbeat_at__lt=_dead_before()):
        abandon_if_dead(run)


def abandon_if_dead(run: SyncRun) -> bool:
    """If `run` is running with a heartbeat older than the abandon limit, record it failed
    ("Abandoned") and free the lock; `run` is brought up to date. True if this call recorded it.

    One conditional UPDATE (still running, heartbeat still old), so of several processes that
    look at the same dead run at once exactly one records it, and a run that beat its
    heartbeat in the meantime is left alone.
    """
    dead_before = _dead_before()
    if run.status != SyncRun.Status.RUNNING or run.heartbeat_at >= dead_before:
        return False
    limit = settings.VISITORSYNC_SYNC_ABANDON_AFTER
    fields = {
        "status": SyncRun.Status.FAILED,
        "finished_at": timezone.now(),
        "phase": SyncRun.ABANDONED_PHASE,
        "error": (
            f"Abandoned: no progress for {limit} seconds (VISITORSYNC_SYNC_ABANDON_AFTER); its "
            "process probably stopped. No number was changed by it. It is not retried: the next "
            "scheduled sync (or one started by hand) syncs the same weeks."
        ),
    }
    recorded = SyncRun.objects.filter(
        pk=run.pk, status=SyncRun.Status.RUNNING, heartbeat_at__lt=dead_before
    ).update(**fields)
    if not recorded:  # another reader recorded it, or it came back to life: read which
        run.refresh_from_db()
        return False
    for name, value in fields.items():
        setattr(run, name, value)
    logger.warning(
        "sync run=%s abandoned (no progress since %s); its lock is released", run.pk, run.heartbeat_at
    )
    return True


def _dead_before() -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=settings.VISITORSYNC_SYNC_ABANDON_AFTER)


def heartbeat(run: SyncRun, *, done: int, phase: str) -> None:
    """Record progress on the run row: pages poll it, and it keeps the lock alive (not once
    the run was recorded abandoned: that record stays)."""
    now = timezone.now()
    run.weeks_done, run.phase, run.heartbeat_at = done, phase, now
    SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
        weeks_done=done, phase=phase, heartbeat_at=now
    )


def heartbeat_interval() -> float:
    """Seconds between heartbeats: six beats fit in the abandon limit, so a live run is never
    presumed dead because one or two beats were late."""
    return settings.VISITORSYNC_SYNC_ABANDON_AFTER / 6


class Heartbeat:
    """Beats the run's heartbeat from a thread of its own while the caller waits (on PostHog).

    The thread uses its own database connection and closes it when it stops. A beat that
    fails (the database is down) is logged and tried again at the next interval: the caller
    finds out about the database itself.
    """

    def __init__(self, run: SyncRun, *, interval: float | None = None) -> None:
        self.run_id = run.pk
        self.interval = interval or heartbeat_interval()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"visitorsync-heartbeat-{run.pk}", daemon=True
        )

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    SyncRun.objects.filter(pk=self.run_id, status=SyncRun.Status.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except DatabaseError as err:
                    logger.warning("sync run=%s heartbeat failed: %s", self.run_id, loggable(err))
                    connection.close()
        finally:
            connections.close_all()  # this thread's connections only


def still_held(run: SyncRun) -> bool:
    """True if `run` still holds the lock; locks the row until the caller's transaction ends.

    A run presumed dead (and replaced) must not write as well: both would add their
    PostHog numbers on top of each other's.
    """
    return SyncRun.objects.select_for_update().filter(pk=run.pk, status=SyncRun.Status.RUNNING).exists()


def finish(run: SyncRun, *, status: str, error: str = "") -> None:
    """Record the outcome and release the lock, unless the run was already declared abandoned
    (that record stays)."""
    run.status = status
    run.error = error
    run.finished_at = timezone.now()
    run.phase = "Done" if status == SyncRun.Status.SUCCEEDED else "Failed"
    SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
        **{field: getattr(run, field) for field in _FINISH_FIELDS}
    )


# Pauses between attempts to record a failure after the database failed: about 8 s in all,
# so a database that drops for a moment still gets the failure recorded and the lock freed.
RECORD_FAILURE_PAUSES = (0.25, 0.5, 1.0, 2.0, 4.0)


def fail(run: SyncRun, *, error: str) -> bool:
    """Record the run as failed and release the lock, even if the database just failed under it.

    The connection that ran the sync may be dead (a dropped server) or its file locked
    (SQLite), so on a database error this closes it and tries again on a fresh one a few
    times. Returns False if the database stayed unreachable: then the lock is freed as
    abandoned after the abandon limit.
    """
    for pause in (None, *RECORD_FAILURE_PAUSES):
        if pause is not None:
            time.sleep(pause)
            if connection.in_atomic_block:  # a caller's broken transaction: nothing to retry
                return False
            connection.close()  # the next query opens a new connection
        try:
            finish(run, status=SyncRun.Status.FAILED, error=error)
            return True
        except DatabaseError as err:
            logger.warning("sync run=%s: could not record its failure yet: %s", run.pk, loggable(err))
    return False


# progress(weeks_done, weeks_total, phase)
ProgressCallback = Callable[[int, int, str], None]


class Progress:
    """Beats the run's heartbeat with its progress (for pages that poll it) and tells the caller."""

    def __init__(self, run: SyncRun, callback: ProgressCallback | None) -> None:
        self.run = run
        self.callback = callback

    def __call__(self, done: int, phase: str) -> None:
        heartbeat(self.run, done=done, phase=phase)
        if self.callback:
            self.callback(done, self.run.weeks_total, phase)
