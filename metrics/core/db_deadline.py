"""A time limit on a block of database work, for a door that must answer in time (the webhook).

PostgreSQL's `statement_timeout` is enforced by the server, so it cannot end a wait on a
server (or a proxy or pooler in front of it) that has stopped answering; TCP keepalives and
TCP_USER_TIMEOUT only notice a peer whose kernel stops acknowledging, which a hung server
or a stalled proxy still does. So when the limit passes, one watchdog thread per process
shuts down the socket of the waiting thread's connection: the driver's wait ends at once
with an OperationalError, and Django discards the connection and opens a new one on its
next use. Opening a connection is bounded by libpq's `connect_timeout` instead (the socket
is not reachable until the connection exists). On other databases this does nothing.
"""

import contextlib
import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator

from django.db import DEFAULT_DB_ALIAS, connections

logger = logging.getLogger(__name__)

# After the limit, how often the watchdog looks again for a connection opened meanwhile.
RECHECK_SECONDS = 0.1


class Deadline:
    """The limit of one block: `expired` tells the block its time ran out."""

    def __init__(self, wrapper, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._wrapper = wrapper  # this thread's DatabaseWrapper, not the thread-local proxy
        self._active = True
        self._lock = threading.Lock()

    def _fire(self) -> bool:
        """Shut down the connection's socket (the watchdog's thread); False once the block ended."""
        with self._lock:
            if not self._active:
                return False
            if not self.expired:
                self.expired = True
                logger.warning(
                    "database did not answer within %g s (VISITORSYNC_WEBHOOK_DB_TIMEOUT): closing "
                    "the connection",
                    self.seconds,
                )
            _shut_down(self._wrapper.connection)
            return True

    def _end(self) -> None:
        # Under the lock, so the watchdog never touches a connection the block has left.
        with self._lock:
            self._active = False

    @property
    def active(self) -> bool:
        return self._active


@contextlib.contextmanager
def database_deadline(seconds: float, *, using: str = DEFAULT_DB_ALIAS) -> Iterator[Deadline]:
    """Bound the database work of this block, on this thread's connection, to `seconds`.

    Past the limit a query waiting for an answer fails with OperationalError; the block
    should then check `deadline.expired` and give up rather than reconnect and retry.
    """
    wrapper = connections[using]
    deadline = Deadline(wrapper, seconds)
    if wrapper.vendor == "postgresql":
        _watchdog.watch(deadline)
    try:
        yield deadline
    finally:
        deadline._end()


def _shut_down(conn) -> None:
    """Shut down a psycopg connection's socket, so that a wait on it ends now."""
    pgconn = getattr(conn, "pgconn", None)
    if pgconn is None:
        return
    import psycopg  # only PostgreSQL connections get here

    try:
        fd = pgconn.socket
        copy = os.dup(fd)
    except (psycopg.Error, OSError):
        return  # closed meanwhile
    try:
        sock = socket.socket(fileno=copy)
    except OSError:
        os.close(copy)
        return
    with sock:  # closes the copy only; the connection keeps its descriptor
        try:
            # The descriptor could have been closed and reused between reading and copying
            # it; the connection still holding it afterwards proves the copy is its socket.
            if pgconn.socket != fd:
                return
        except psycopg.Error:
            return
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One thread per process that fires deadlines in time order; started on first use."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: Deadline) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="database-deadline", daemon=True)
                self._thread.start()
            heapq.heappush(self._queue, (deadline.at, next(self._order), deadline))
            if self._queue[0][2] is deadline:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    while self._queue and not self._queue[0][2].active:
                        heapq.heappop(self._queue)
                    if not self._queue:
                        self._cond.wait()
                        continue
                    wait = self._queue[0][0] - time.monotonic()
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                _, _, deadline = heapq.heappop(self._queue)
            if deadline._fire():
                with self._cond:
                    again = time.monotonic() + RECHECK_SECONDS
                    heapq.heappush(self._queue, (again, next(self._order), deadline))


_watchdog = _Watchdog()


def _after_fork_in_child() -> None:
    # gunicorn forks its workers: a child gets no copy of the parent's thread (and maybe a
    # lock the thread held), so it starts its own watchdog.
    global _watchdog
    _watchdog = _Watchdog()


os.register_at_fork(after_in_child=_after_fork_in_child)
