"""A process's knowledge that its database has stopped answering ("stalled"), and the probe
that ends it.

When a database wait runs out its limit (metrics/core/db_deadline.py) or opening a connection
times out, the database has stopped answering, and every request that waits on it would hold
a server thread for its whole limit: enough of them hold every thread, and nothing else (a
webhook delivery) is answered. So the process enters the stalled state: the doors answer
503 with Retry-After at once to requests that need the database, without touching it,
while one probe thread asks the database a trivial query (a new connection and `SELECT 1`,
each within its own limit) until it answers; then requests go through again. The first
probe starts at once, so a wait that ran out on a lock (the database still answers) stalls
nothing for longer than a query. Per process: each gunicorn worker finds out for itself.
"""

import contextlib
import logging
import os
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connection

from metrics.core.db_deadline import database_deadline

logger = logging.getLogger(__name__)

# Between two probes that found the database silent.
PROBE_PAUSE_SECONDS = 0.5
# What a door tells the client: the probe runs every second or so.
RETRY_AFTER_SECONDS = 2


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.since: float | None = None  # monotonic time it began, None while not stalled


_state = _State()


def stalled() -> bool:
    """True while the database is known not to answer (a probe has not had an answer yet)."""
    return _state.since is not None


def enter(reason: str) -> None:
    """The database did not answer in time (`reason`, for the log): stall, and start the probe."""
    with _state.lock:
        if _state.since is not None:
            return
        _state.since = time.monotonic()
    logger.warning(
        "database stalled (%s): requests that need it are answered 503 at once until it answers again",
        reason,
    )
    threading.Thread(target=_probe_until_answered, name="database-stall-probe", daemon=True).start()


def timed_out(err: BaseException) -> bool:
    """True if `err` is (or was raised from) a connection attempt that ran out of
    DATABASE_CONNECT_TIMEOUT: a silent database, unlike one that refuses connections."""
    try:
        from psycopg.errors import ConnectionTimeout
    except ImportError:  # SQLite only: no driver, no connect timeout
        return False
    while err is not None:
        if isinstance(err, ConnectionTimeout):
            return True
        err = err.__cause__
    return False


def _probe_until_answered() -> None:
    try:
        while not _answers():
            time.sleep(PROBE_PAUSE_SECONDS)
    finally:
        with _state.lock:
            began, _state.since = _state.since, None
    if began is not None:
        logger.warning("database answers again after %.1f s: requests go through", time.monotonic() - began)


def _answers() -> bool:
    """One probe on this thread's own connection, opened for it and closed after."""
    try:
        with (
            database_deadline(settings.VISITORSYNC_REQUEST_DB_TIMEOUT, setting=None) as deadline,
            connection.cursor() as cursor,
        ):
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return not deadline.expired
    except DatabaseError:
        return False
    finally:
        with contextlib.suppress(DatabaseError):
            connection.close()


def _after_fork_in_child() -> None:
    # A gunicorn worker starts unstalled: the parent's probe thread is not copied.
    global _state
    _state = _State()


os.register_at_fork(after_in_child=_after_fork_in_child)
