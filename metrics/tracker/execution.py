"""Running a sync that holds the lock: ask PostHog range by range, compare, refuse a wipe-out,
write every change in one transaction, and record the outcome (or the failure) on the run."""

import dataclasses
import datetime as dt
import logging
import time

from django.conf import settings
from django.db import DatabaseError, transaction

from metrics.core.errors import (
    DatabaseUnavailable,
    LockLost,
    SyncFailed,
    SyncNotConfigured,
    WipeoutRefused,
)
from metrics.core.logsafe import loggable
from metrics.models import SyncRun
from metrics.posthog import PostHogClient, PostHogError, PostHogNotConfigured
from metrics.tracker import apply, lock, metric_values, ranges
from metrics.tracker.pageviews import prune_webhook_rows

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SyncOptions:
    """How a sync runs, whichever door starts it.

    `since` applies to a full sync only (sync from the week of that date). `force` writes
    even when PostHog's answer would set weeks holding visitors to zero. `client` is for
    tests and benchmarks; by default a client is built from the settings.
    """

    trigger: str
    since: dt.date | None = None
    dry_run: bool = False
    force: bool = False
    started_by: str = ""
    client: PostHogClient | None = None


@dataclasses.dataclass
class PendingSync:
    """A sync that holds the lock (`run` is its running SyncRun) but has not asked PostHog.

    Call `execute()` exactly once, in any thread; until then the lock stays held (and is
    freed as abandoned after VISITORSYNC_SYNC_ABANDON_AFTER seconds if it never is).
    """

    run: SyncRun
    week_starts: list[dt.date]
    options: SyncOptions
    client: PostHogClient

    def execute(self, *, progress: lock.ProgressCallback | None = None) -> SyncRun:
        """Run the sync; returns the finished SyncRun or raises SyncFailed (recorded)."""
        return run_pending(self, progress=progress)

    def cancel(self, *, reason: str) -> None:
        """Give the lock back without asking PostHog (the sync could not be handed on)."""
        lock.fail(self.run, error=reason)


def run_pending(pending: PendingSync, *, progress: lock.ProgressCallback | None) -> SyncRun:
    """Ask PostHog for the pending sync's weeks, compare, refuse a wipe-out and write in one
    transaction; record the outcome on the run and free the lock. Raises SyncFailed (recorded)."""
    run, week_starts, client = pending.run, pending.week_starts, pending.client
    started = time.monotonic()
    queries_before = client.queries
    report = lock.Progress(run, progress)
    try:
        metrics = metric_values.counted_metrics()
        with lock.Heartbeat(run):
            stored, stored_values, answer = ranges.ask_posthog(
                client, week_starts=week_starts, report=report, metrics=metrics
            )
        run.queries = client.queries - queries_before
        report(len(week_starts), "Comparing" if run.dry_run else "Writing")
        with transaction.atomic():
            if not lock.still_held(run):
                raise LockLost(
                    f"Sync #{run.pk} made no progress for {settings.VISITORSYNC_SYNC_ABANDON_AFTER} s, "
                    "was presumed dead and its lock released, so it wrote nothing. If syncs really "
                    "take this long, raise VISITORSYNC_SYNC_ABANDON_AFTER.",
                    run=run,
                )
            changes = apply.compare(
                week_starts=week_starts,
                stored=stored,
                answer=answer,
                metrics=metrics,
                stored_values=stored_values,
            )
            if not pending.options.force:
                apply.refuse_wipeout(changes, run=run)
            if not run.dry_run:
                apply.write(week_starts=week_starts, stored=stored, changes=changes)
                metric_values.write(
                    week_starts=week_starts, metrics=metrics, stored=stored_values, answer=answer
                )
                metric_values.mark_restated(run=run, week_starts=week_starts)
                prune_webhook_rows()
            apply.record_result(run, week_starts=week_starts, changes=changes)
            lock.finish(run, status=SyncRun.Status.SUCCEEDED)
    except LockLost as err:
        logger.error("sync run=%s trigger=%s: %s", run.pk, run.trigger, loggable(err))
        raise
    except WipeoutRefused as err:
        lock.fail(run, error=str(err))
        logger.error("sync run=%s trigger=%s refused: %s", run.pk, run.trigger, loggable(err))
        raise
    except PostHogError as err:
        run.queries = client.queries - queries_before
        lock.fail(run, error=str(err))
        logger.error(
            "sync run=%s trigger=%s failed after %d queries: %s",
            run.pk,
            run.trigger,
            run.queries,
            loggable(err),
        )
        failure = SyncNotConfigured if isinstance(err, PostHogNotConfigured) else SyncFailed
        raise failure(str(err), run=run) from err
    except DatabaseError as err:
        # A dropped database server, or a SQLite file locked at write time. The failed
        # transaction was rolled back; record the failure on a fresh connection.
        message = (
            f"The database failed during the sync ({type(err).__name__}: {str(err).strip()[:200]}); "
            "nothing was changed. Check that the database is reachable, then sync again."
        )
        logger.error("sync run=%s trigger=%s: database failed: %s", run.pk, run.trigger, loggable(err))
        run.queries = client.queries - queries_before
        if not lock.fail(run, error=message):
            limit = settings.VISITORSYNC_SYNC_ABANDON_AFTER
            message += (
                f" Its failure could not be recorded either, so sync #{run.pk} holds the lock until "
                f"it is presumed dead, {limit} s after its last heartbeat (VISITORSYNC_SYNC_ABANDON_AFTER)."
            )
        raise DatabaseUnavailable(message, run=run) from err
    except Exception as err:
        lock.fail(run, error=f"Internal error: {err!r}")
        logger.exception("sync run=%s trigger=%s crashed", run.pk, run.trigger)
        raise
    except BaseException as err:
        # Ctrl-C or a stopping process: not a bug. Release the lock now rather than after the
        # abandon limit; the write transaction (if it had begun) was rolled back.
        lock.fail(run, error=f"Interrupted ({type(err).__name__}) before it finished; no number was changed.")
        logger.warning("sync run=%s trigger=%s interrupted (%s)", run.pk, run.trigger, type(err).__name__)
        raise
    logger.info(
        "sync run=%s trigger=%s%s weeks=%d created=%d updated=%d unchanged=%d queries=%d duration=%.2fs",
        run.pk,
        run.trigger,
        " (dry run)" if run.dry_run else "",
        run.weeks_checked,
        run.weeks_created,
        run.weeks_updated,
        run.weeks_unchanged,
        run.queries,
        time.monotonic() - started,
    )
    return run
