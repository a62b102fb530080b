"""Time limits on waiting for the database, for doors that must answer in time.

PostgreSQL's `statement_timeout` is enforced by the server, so it cannot end a wait on a
server (or a proxy or pooler in front of it) that has stopped answering; TCP keepalives and
TCP_USER_TIMEOUT only notice a peer whose kernel stops acknowledging, which a hung server
or a stalled proxy still does. So when a limit passes, one watchdog thread per process
shuts down the socket of the waiting thread's connection: the driver's wait ends at once
with an OperationalError, and Django discards the connection and opens a new one on its
next use. Opening a connection is bounded by libpq's `connect_timeout` instead (the socket
is not reachable until the connection exists). On other databases this does nothing.

Two kinds of limit:
- `database_deadline(seconds)`: a block's whole use of the database (the webhook's
  delivery, VISITORSYNC_WEBHOOK_DB_TIMEOUT);
- `RequestDeadline(seconds)`: each wait for an answer, for as long as a request lasts (every
  other door, VISITORSYNC_REQUEST_DB_TIMEOUT), so a door that also waits on PostHog or a
  mail server is not cut short, yet never waits on a silent database longer than `seconds`.
"""

import contextlib
import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

from django.db import DEFAULT_DB_ALIAS, connections

logger = logging.getLogger(__name__)

# After the limit, how often the watchdog looks again for a connection opened meanwhile.
RECHECK_SECONDS = 0.1
EXPIRED = "database did not answer within %g s (%s): closing the connection"


class Deadline:
    """The limit of one block: `expired` tells the block its time ran out.

    `setting` names the limit in the warning logged when it passes (None: no warning);
    `on_expiry` is called once then, on the watchdog's thread.
    """

    def __init__(
        self, wrapper, seconds: float, *, setting: str | None, on_expiry: Callable[[], None] | None = None
    ) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._setting = setting
        self._on_expiry = on_expiry
        self._wrapper = wrapper  # this thread's DatabaseWrapper, not the thread-local proxy
        self._active = True
        self._lock = threading.Lock()

    def _due(self) -> float | None:
        """The watchdog's turn (its thread): shut down the connection's socket, and look
        again soon for one opened meanwhile; None once the block ended."""
        if not self._fire():
            return None
        return time.monotonic() + RECHECK_SECONDS

    def _fire(self) -> bool:
        with self._lock:
            if not self._active:
                return False
            first = not self.expired
            self.expired = True
            _shut_down(self._wrapper.connection)
        if first:
            self._expired()
        return True

    def _expired(self) -> None:
        if self._setting:
            logger.warning(EXPIRED, self.seconds, self._setting)
        if self._on_expiry:
            self._on_expiry()

    def _end(self) -> None:
        # Under the lock, so the watchdog never touches a connection the block has left.
        with self._lock:
            self._active = False

    @property
    def active(self) -> bool:
        return self._active


@contextlib.contextmanager
def database_deadline(
    seconds: float,
    *,
    using: str = DEFAULT_DB_ALIAS,
    setting: str | None = "VISITORSYNC_WEBHOOK_DB_TIMEOUT",
    on_expiry: Callable[[], None] | None = None,
) -> Iterator[Deadline]:
    """Bound the database work of this block, on this thread's connection, to `seconds`.

    Past the limit a query waiting for an answer fails with OperationalError; the block
    should then check `deadline.expired` and give up rather than reconnect and retry.
    """
    wrapper = connections[using]
    deadline = Deadline(wrapper, seconds, setting=setting, on_expiry=on_expiry)
    if wrapper.vendor == "postgresql":
        _watchdog.watch(deadline)
    try:
        yield deadline
    finally:
        deadline._end()


class RequestDeadline(Deadline):
    """Within `with RequestDeadline(...)`, each wait of this thread's connection for an answer
    ends after `seconds`.

    A wait starts with each query (an execute wrapper), and with `check_connection()`; the
    commit or rollback that follows a query counts as part of its wait. When the limit passes
    and the connection is waiting for an answer, its socket is shut down as for a deadline;
    a connection that is idle then (its thread waits on something else) is left alone. (The
    fetches of a server-side cursor are not queries: iterating one for longer than the limit
    would be cut. No door iterates one.)
    """

    def __init__(
        self,
        seconds: float,
        *,
        setting: str,
        using: str = DEFAULT_DB_ALIAS,
        on_expiry: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(connections[using], seconds, setting=setting, on_expiry=on_expiry)
        self._watched = False
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> "RequestDeadline":
        if self._wrapper.vendor == "postgresql":
            self._stack.enter_context(self._wrapper.execute_wrapper(self._on_execute))
        else:
            self._active = False
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        """No limit from now on (a door that bounds its own waits)."""
        self._stack.close()
        self._end()

    def check_connection(self) -> bool:
        """Django's health check of a reused connection (CONN_HEALTH_CHECKS), run now under the
        limit rather than inside the first query, where Django, finding the connection dead,
        would at once open a new one and wait DATABASE_CONNECT_TIMEOUT more. False if it ran out."""
        self._start_wait()
        self._wrapper.close_if_health_check_failed()
        return not self.expired

    def _on_execute(self, execute, sql, params, many, context):
        self._start_wait()
        return execute(sql, params, many, context)

    def _start_wait(self) -> None:
        with self._lock:
            if not self._active:
                return
            self.at = time.monotonic() + self.seconds
            if self._watched:
                return  # the watchdog finds the new time when the old one comes
            self._watched = True
        _watchdog.watch(self)

    def _due(self) -> float | None:
        with self._lock:
            if not self._active:
                return None
            if self.at > time.monotonic():
                return self.at  # a wait started since
            self._watched = False
            conn = self._wrapper.connection  # once: the thread may open another meanwhile
            if not _waiting_for_an_answer(conn):
                return None
            first = not self.expired
            self.expired = True
            _shut_down(conn)
        if first:
            self._expired()
        return None


def _waiting_for_an_answer(conn) -> bool:
    """True while a psycopg connection has sent a command and not had its whole answer."""
    pgconn = getattr(conn, "pgconn", None)
    if pgconn is None:
        return False
    import psycopg  # only PostgreSQL connections get here

    try:
        return pgconn.transaction_status == psycopg.pq.TransactionStatus.ACTIVE
    except psycopg.Error:
        return False  # closed meanwhile


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
    """One thread per process that gives each limit its turn in time order; started on first use."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: Deadline) -> None:
        self._push(deadline.at, deadline)

    def _push(self, at: float, deadline: Deadline) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="database-deadline", daemon=True)
                self._thread.start()
            heapq.heappush(self._queue, (at, next(self._order), deadline))
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
            again = deadline._due()
            if again is not None:
                self._push(again, deadline)


_watchdog = _Watchdog()


def _after_fork_in_child() -> None:
    # gunicorn forks its workers: a child gets no copy of the parent's thread (and maybe a
    # lock the thread held), so it starts its own watchdog.
    global _watchdog
    _watchdog = _Watchdog()


os.register_at_fork(after_in_child=_after_fork_in_child)
