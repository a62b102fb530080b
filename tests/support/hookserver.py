"""A loopback HTTP server standing in for a Slack-compatible incoming webhook."""

import json
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class HookServer:
    """Keeps each posted JSON body in `posts`. `status` is the answer; `delay` seconds are slept
    before answering (to run past the client's timeout)."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.attempts = 0
        self.status = HTTPStatus.OK
        self.delay = 0.0
        self._stop = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.attempts += 1
                if owner.delay:
                    owner._stop.wait(owner.delay)  # bounded; ends early when the server stops
                if owner.status == HTTPStatus.OK:
                    owner.posts.append(json.loads(body))
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

    def __enter__(self) -> "HookServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        time.sleep(0)  # let a sleeping handler see the event
        self._server.shutdown()
        self._server.server_close()
