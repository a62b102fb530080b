"""The webhook delivery's database connection: checked before use, unless it answered a
delivery a moment ago.

Django's health check (CONN_HEALTH_CHECKS) asks a reused connection `SELECT 1` once per
request: a round trip per delivery, about a tenth of a delivery's server CPU under load
(docs/performance.md). A connection that answered this thread's previous delivery less than
RECENT_SECONDS ago is used without it. Should it have died in between, the delivery's
statement fails on it instead of the check, and the caller opens a new connection and sends
the statement again at once (`recheck_after_failure`), as it would have after a failed check:
the statement is one atomic statement keyed by the event's uuid, so a first attempt that
committed before the connection broke makes the second a DUPLICATE, never a second count.
"""

import threading
import time

from django.db import OperationalError, connection

from metrics.core.db_deadline import Deadline

# How long after a delivery's answer this thread's connection is used without a check.
RECENT_SECONDS = 1.0


class _Recent(threading.local):
    """This thread's last answered connection (Django's connections are per thread too)."""

    raw: object | None = None
    at: float = 0.0


_recent = _Recent()


def check_connection(deadline: Deadline) -> bool:
    """Django's health check of a reused connection, under `deadline`; skipped (True returned)
    when the connection answered this thread's delivery less than RECENT_SECONDS ago.

    Run here rather than inside the first query, where Django, finding the connection dead,
    would at once open a new one: after a silent database ran out the deadline, that would
    wait DATABASE_CONNECT_TIMEOUT more.
    """
    if getattr(connection.connection, "closed", False):
        # psycopg knows it is lost (an earlier deadline shut it). Django drops such a
        # connection when a request starts; a caller outside a request would keep it.
        connection.close()
    skipped = (
        connection.connection is not None
        and connection.connection is _recent.raw
        and time.monotonic() - _recent.at < RECENT_SECONDS
    )
    if skipped:
        connection.health_check_done = True  # Django's own flag: no SELECT 1 for this request
    connection.close_if_health_check_failed()
    if deadline.expired:
        raise OperationalError("the database did not answer the health check")
    return skipped


def answered() -> None:
    """The delivery's statement was answered on this thread's connection just now."""
    _recent.raw, _recent.at = connection.connection, time.monotonic()


def forget() -> None:
    """Check this thread's connection before its next use (it failed, or was replaced)."""
    _recent.raw = None


def still_connected() -> bool:
    """After a failed statement: does the connection still work? If not, it is closed."""
    if connection.connection is None:
        return False
    if connection.is_usable():
        return True
    connection.close()
    return False


def recheck_after_failure(*, skipped_check: bool, deadline: Deadline) -> bool:
    """True if a statement that failed on a connection used without its check should be sent
    again at once on a new one: the connection is gone (what the check would have found), the
    deadline has time left, and no caller's transaction is open (it would be broken)."""
    forget()
    if not skipped_check or deadline.expired or connection.in_atomic_block:
        return False
    return not still_connected()
