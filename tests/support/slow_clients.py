"""Clients that send a request one byte at a time and never finish it (a "slow loris").

Most drip the request line and headers; some send complete headers of an authenticated
webhook delivery and then drip its body, as a client on a bad network would. Every
request carries `slow-client` in its path, so a server log shows whether any reached it.
Used by tests/test_proxy.py and bench/webhook_slow_clients.py.
"""

import contextlib
import socket
import ssl
import threading
import time

MARKER = "slow-client"


class SlowClients:
    """`count` connections to 127.0.0.1:`port`, each sending the next byte of its request
    every `interval` seconds, from one thread, for at most `seconds`, then closed.

    `bodies` of them (with `secret`) drip the body of a webhook delivery instead of its
    headers. With `tls`, each connection completes its TLS handshake first. Connections
    open `pace` seconds apart, as an attacker's would, so every gunicorn worker that is
    accepting gets its share.
    """

    def __init__(
        self,
        port: int,
        *,
        count: int,
        bodies: int = 0,
        secret: str = "",
        interval: float = 0.5,
        seconds: float = 10,
        pace: float = 0.02,
        tls: ssl.SSLContext | None = None,
    ):
        self.port, self.count, self.bodies, self.secret = port, count, bodies, secret
        self.interval, self.seconds, self.pace, self.tls = interval, seconds, pace, tls
        self._sockets: list[socket.socket] = []
        self._pending: list[bytes] = []
        self.closed_by_server: list[float] = []  # seconds after opening, one per connection
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip, name="slow-clients", daemon=True)
        self._started = 0.0

    def _request(self, n: int) -> tuple[bytes, bytes]:
        """(sent at once, dripped): a request that takes far longer than `seconds` to finish."""
        if n < self.bodies:
            head = (
                f"POST /api/webhooks/posthog?{MARKER}={n} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {self.secret}\r\nContent-Type: application/json\r\n"
                "Content-Length: 10000\r\n\r\n"
            ).encode()
            return head, b'{"event": {"padding": "' + b"a" * 9_000
        line = f"POST /api/webhooks/posthog?{MARKER}={n} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: "
        return b"", line.encode() + b"a" * 9_000

    @property
    def open(self) -> int:
        """How many connections the server has not closed (as seen by the last byte sent)."""
        return self.count - len(self.closed_by_server)

    def __enter__(self) -> "SlowClients":
        self._started = time.monotonic()
        try:
            for n in range(self.count):
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                self._sockets.append(sock)
                if self.tls:
                    sock = self._sockets[-1] = self.tls.wrap_socket(sock, server_hostname="127.0.0.1")
                head, drip = self._request(n)
                if head:
                    sock.sendall(head)
                sock.sendall(drip[:1])
                self._pending.append(drip[1:])
                time.sleep(self.pace)
        except BaseException:
            self._close()
            raise
        self._thread.start()
        return self

    def _drip(self) -> None:
        deadline = self._started + self.seconds
        alive = set(range(self.count))
        while alive and time.monotonic() < deadline and not self._stop.wait(self.interval):
            for n in sorted(alive):
                try:
                    self._sockets[n].send(self._pending[n][:1])
                    self._pending[n] = self._pending[n][1:]
                except (OSError, ssl.SSLError):  # the server gave up on this client
                    alive.discard(n)
                    self.closed_by_server.append(time.monotonic() - self._started)
        self._close()

    def _close(self) -> None:
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 10)
        self._close()
