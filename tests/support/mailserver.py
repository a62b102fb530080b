"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, for the tests.

`drip()` makes it send every reply one byte at a time, the way a mail server (or something in
front of it) that holds its clients does; `drips` then says how much of each reply went out
before the client hung up, so a test proves the cut by bytes rather than by time.
"""

import asyncio
import dataclasses
import email
import email.policy
import socket
import ssl
import threading
import time
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclasses.dataclass
class Drip:
    """One dripped reply: the bytes sent of `total`, fewer when the client hung up on it."""

    sent: int
    total: int
    hung_up: bool = False


def wait_for_cut(drips: list[Drip], lock: threading.Lock, *, timeout: float) -> list[Drip]:
    """The dripped replies the client hung up on, waiting up to `timeout` s for the first (a
    server notices a hang-up at its next byte)."""
    ends = time.monotonic() + timeout
    while True:
        with lock:
            cut = [drip for drip in drips if drip.sent < drip.total and drip.hung_up]
        if cut or time.monotonic() > ends:
            return cut
        time.sleep(0.02)


class _DrippingSMTP(SMTP):
    """aiosmtpd's SMTP session, sending each reply as its server's `drip` says."""

    def __init__(self, owner: "SMTPServer", *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.opened = time.monotonic()

    async def push(self, status) -> None:
        seconds_per_byte, cutoff = self.owner.seconds_per_byte, self.owner.drip_for
        if not seconds_per_byte or time.monotonic() - self.opened >= cutoff:
            await super().push(status)
            return
        reply = (status.encode() if isinstance(status, str) else status) + b"\r\n"
        drip = Drip(sent=0, total=len(reply))
        with self.owner.lock:
            self.owner.drips.append(drip)
        # One byte per step until the reply is out, the client hangs up (aiosmtpd then cancels
        # this session), or the peer's own cutoff (`drip_for` seconds into the connection)
        # sends the rest at once.
        try:
            while drip.sent < drip.total and not self._hung_up():
                if time.monotonic() - self.opened >= cutoff:
                    self._writer.write(reply[drip.sent :])
                    drip.sent = drip.total
                    break
                self._writer.write(reply[drip.sent : drip.sent + 1])
                drip.sent += 1
                await asyncio.sleep(seconds_per_byte)
        finally:
            drip.hung_up = drip.sent < drip.total

    def _hung_up(self) -> bool:
        return self._writer.transport.is_closing() or self._reader.at_eof()


class _Controller(Controller):
    def __init__(self, owner: "SMTPServer", *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner  # not `server`: the controller's own attribute

    def factory(self) -> SMTP:
        return _DrippingSMTP(self.owner, self.handler, **self.SMTP_kwargs)


class _Handler:
    def __init__(self, server: "SMTPServer") -> None:
        self.server = server

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.server.refuse:
            return "451 4.3.0 scripted temporary failure"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.server.lock:
            self.server.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


class SMTPServer:
    """`messages` holds (envelope recipients, parsed message); `refuse=True` answers 451 to every mail."""

    def __init__(self, *, tls: ssl.SSLContext | None = None, implicit_tls: bool = False) -> None:
        """With `tls` (a server context), STARTTLS is offered, or with `implicit_tls` every
        connection is TLS from the start (smtps)."""
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.lock = threading.Lock()
        self.refuse = False
        self.seconds_per_byte = 0.0
        self.drip_for = 0.0
        self.drips: list[Drip] = []
        self.port = free_port()
        self._controller = _Controller(
            self,
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            **({"ssl_context": tls} if implicit_tls else {"tls_context": tls} if tls else {}),
        )

    def drip(self, *, seconds_per_byte: float, for_seconds: float) -> None:
        """From the next connection on, send each reply one byte per `seconds_per_byte`, for
        the first `for_seconds` of each connection (the peer's own cutoff), then at once."""
        self.seconds_per_byte, self.drip_for = seconds_per_byte, for_seconds

    def cut_drips(self, *, timeout: float = 5.0) -> list[Drip]:
        """The dripped replies a client hung up on before they were out (waits for one)."""
        return wait_for_cut(self.drips, self.lock, timeout=timeout)

    def __enter__(self) -> "SMTPServer":
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()

    def to(self, recipient: str) -> list[EmailMessage]:
        with self.lock:
            return [message for rcpts, message in self.messages if recipient in rcpts]
