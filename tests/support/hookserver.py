"""A loopback HTTP server standing in for a Slack-compatible incoming webhook."""

import json
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.mailserver import Drip, wait_for_cut


class HookServer:
    """Keeps each posted JSON body in `posts`. `status` is the answer; `delay` seconds are slept
    before answering (to run past the client's timeout); `drip()` sends each answer one byte at
    a time instead, and `drips` says how much of each went out before the client hung up."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.attempts = 0
        self.status = HTTPStatus.OK
        self.delay = 0.0
        self.seconds_per_byte = 0.0
        self.drip_for = 0.0
        self.drips: list[Drip] = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with owner.lock:
                    owner.attempts += 1
                if owner.delay:
                    owner._stop.wait(owner.delay)  # bounded; ends early when the server stops
                if owner.status == HTTPStatus.OK:
                    with owner.lock:
                        owner.posts.append(json.loads(body))
                if owner.seconds_per_byte:
                    owner._drip(self)
                    return
                self.send_response(owner.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # shutdown() waits for the next poll (0.5 s by default), and the tests stop one per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/services/T000/B000/secretpath"

    def drip(self, *, seconds_per_byte: float, for_seconds: float) -> None:
        """Send each answer one byte per `seconds_per_byte`, from its status line on, for the
        first `for_seconds` (the peer's own cutoff), then the rest at once."""
        self.seconds_per_byte, self.drip_for = seconds_per_byte, for_seconds

    def cut_drips(self, *, timeout: float = 5.0) -> list[Drip]:
        """The dripped answers a client hung up on before they were out (waits for one)."""
        return wait_for_cut(self.drips, self.lock, timeout=timeout)

    def _drip(self, request: BaseHTTPRequestHandler) -> None:
        phrase = HTTPStatus(self.status).phrase
        answer = f"HTTP/1.1 {self.status} {phrase}\r\nContent-Length: 2\r\n\r\nok".encode()
        drip = Drip(sent=0, total=len(answer))
        with self.lock:
            self.drips.append(drip)
        request.close_connection = True
        started = time.monotonic()
        try:
            while drip.sent < drip.total and not self._stop.wait(self.seconds_per_byte):
                step = 1 if time.monotonic() - started < self.drip_for else drip.total - drip.sent
                request.wfile.write(answer[drip.sent : drip.sent + step])
                request.wfile.flush()
                drip.sent += step
        except OSError:
            drip.hung_up = True  # `sent` says how far it got

    def __enter__(self) -> "HookServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        time.sleep(0)  # let a sleeping handler see the event
        self._server.shutdown()
        self._server.server_close()
