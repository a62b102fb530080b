"""Django's SMTP backend with a total deadline: EMAIL_TIMEOUT bounds a whole send, not each read.

Django hands EMAIL_TIMEOUT to smtplib as a socket timeout, which bounds each read: a mail
server that drips its replies a byte at a time holds a send (and whatever waits on it) as
long as it likes. Here one `send_messages` (connect, greeting, EHLO, TLS, login, every
message, QUIT) runs inside an `AttemptDeadline` of EMAIL_TIMEOUT: its socket is hung up when
the time is up and the send raises `MailTooSlow`. EMAIL_URL's smtp schemes select this backend
(visitorsync/settings/derived.py).
"""

import smtplib
import ssl
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.mail.backends import smtp
from django.utils.functional import cached_property

from metrics.core.attempt_deadline import AttemptDeadline, current, watch_socket
from metrics.core.errors import MailTooSlow

T = TypeVar("T")


class _WatchedContext:
    """An SSLContext whose sockets are handed to the deadline before their handshake (smtplib
    wraps with the context it is given: smtps:// at connect, smtp+tls:// at STARTTLS)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context

    def wrap_socket(self, sock: Any, **kwargs: Any) -> ssl.SSLSocket:
        tls = self._context.wrap_socket(sock, **{**kwargs, "do_handshake_on_connect": False})
        watch_socket(tls)  # the plain socket now belongs to the TLS one
        tls.do_handshake()
        return tls

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class _Watched:
    """Mixed into smtplib's classes: the connection's socket is handed to the deadline before
    the greeting is read, and the connect itself waits no longer than the time left."""

    def _get_socket(self, host: str, port: int, timeout: float) -> Any:
        deadline = current()
        if deadline is not None:
            timeout = max(0.001, min(timeout, deadline.remaining()))
        sock = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        watch_socket(sock)
        return sock


class _SMTP(_Watched, smtplib.SMTP):
    pass


class _SMTPSSL(_Watched, smtplib.SMTP_SSL):
    pass


class EmailBackend(smtp.EmailBackend):
    """Django's SMTP backend; each `open` and `send_messages` ends within EMAIL_TIMEOUT."""

    @property
    def connection_class(self) -> type[smtplib.SMTP]:
        return _SMTPSSL if self.use_ssl else _SMTP

    @cached_property
    def ssl_context(self) -> Any:
        return _WatchedContext(smtp.EmailBackend.ssl_context.func(self))

    def open(self) -> bool | None:
        return self._within_deadline(super().open)

    def send_messages(self, email_messages: list) -> int:
        return self._within_deadline(lambda: super(EmailBackend, self).send_messages(email_messages))

    def _within_deadline(self, exchange: Callable[[], T]) -> T:
        if self.timeout is None or current() is not None:
            return exchange()  # no limit set, or already inside this send's deadline
        with AttemptDeadline(self.timeout) as deadline:
            if self.connection is not None and self.connection.sock is not None:
                watch_socket(self.connection.sock)  # opened earlier, by an `open()` of its own
            try:
                return exchange()
            except OSError as err:  # smtplib's errors are OSErrors too
                if not deadline.expired:
                    raise
                raise MailTooSlow(
                    f"The mail server at {self.host}:{self.port} did not finish taking the message "
                    f"within {self.timeout:g} s (EMAIL_TIMEOUT, the most one send may take), so "
                    "visitorsync hung up. Check the mail server and the network to it; the message "
                    "is tried again at the next send."
                ) from err
