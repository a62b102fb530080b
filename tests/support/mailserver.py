"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, for the tests."""

import email
import email.policy
import socket
import threading
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.lock = threading.Lock()
        self.refuse = False
        self.port = free_port()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "SMTPServer":
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()

    def to(self, recipient: str) -> list[EmailMessage]:
        with self.lock:
            return [message for rcpts, message in self.messages if recipient in rcpts]
