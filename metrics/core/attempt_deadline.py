"""A total deadline for one outgoing attempt, whatever the attempt is waiting for.

A socket timeout (requests' read timeout, smtplib's `timeout`) bounds each read, not the
exchange: a peer (or a proxy) that sends a byte every few seconds keeps it going for as long
as it likes. Within `with AttemptDeadline(seconds):`, the socket handed to `watch` is hung up
when the time is up, whether the attempt is connecting, sending or waiting for an answer; the
blocked call then fails at once and `expired` says why. Used by the PostHog client and the
alert webhook (a `requests` session that mounts `DeadlineAdapter`) and by the SMTP backend
(`metrics.reports.smtp`, which hands over its sockets with `watch_socket`).
"""

import contextlib
import socket
import threading
import time
from types import TracebackType
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# The deadline of the attempt this thread is making, for its connection to report to.
_current = threading.local()


def current() -> "AttemptDeadline | None":
    """The deadline of the attempt this thread is inside, if any."""
    return getattr(_current, "deadline", None)


def watch_socket(sock: Any) -> None:
    """Hand `sock` to this thread's deadline (a no-op outside one)."""
    deadline = current()
    if deadline is not None:
        deadline.watch(sock)


class AttemptDeadline:
    """Hangs up the connection of the attempt made inside `with` once `seconds` have passed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._ends = 0.0
        self._outer: AttemptDeadline | None = None
        self._lock = threading.Lock()
        self._sock: Any = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "AttemptDeadline":
        self._outer, _current.deadline = current(), self
        self._ends = time.monotonic() + self.seconds
        self._timer.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._timer.cancel()
        _current.deadline = self._outer
        with self._lock:
            self._sock = None  # back in the pool: not ours to hang up any more

    def remaining(self) -> float:
        """Seconds left (0 once expired), e.g. for a connect timeout."""
        return max(0.0, self._ends - time.monotonic())

    def watch(self, sock: Any) -> None:
        """Hang up `sock` at the deadline (at once if it has passed); it replaces the socket
        watched before, which the attempt has stopped using (e.g. a plain socket under TLS)."""
        with self._lock:
            if self.expired:
                _hang_up(sock)
            else:
                self._sock = sock

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._sock is not None:
                _hang_up(self._sock)


def _hang_up(sock: Any) -> None:
    # shutdown() rather than close(): it wakes a read blocked in the other thread at once and
    # leaves closing the socket to its owner. socket.socket's own shutdown, on the TCP socket
    # under any TLS layer, so TLS state is not torn down under the reading thread.
    raw = sock if isinstance(sock, socket.socket) else getattr(sock, "socket", None)
    if raw is None:
        return
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(raw, socket.SHUT_RDWR)


class _Watched:
    """Mixed into urllib3's connections: the socket is handed to the attempt's deadline."""

    sock: Any

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        if self.sock is not None:
            watch_socket(self.sock)
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPConnectionPool, "https": _WatchedHTTPSConnectionPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter, with connections an `AttemptDeadline` can hang up (direct or via a proxy)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS proxies bring pools of their own
            manager.pool_classes_by_scheme = _POOLS
        return manager
