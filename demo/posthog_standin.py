"""A PostHog-compatible Query API stand-in on 127.0.0.1, for tests, benchmarks and the demo.

It answers `POST /api/projects/<id>/query/` the way PostHog does for visitorsync's weekly
HogQL query: it reads the week mode, time zone, events, bounds and host filter from the
query's text, expands `{filters}` into its project's "internal and test users" filters
(`test_account_filters`, PostHog's shape) when `filters.filterTestAccounts` is set, refuses
what PostHog refuses (`values` together with `{filters}`, an unknown placeholder or filters
key: 400), answers 512 for a range longer than `max_weeks_per_query` (PostHog's "too heavy"),
and computes the weekly numbers from its own fixture events (the ground truth). It checks the
Bearer key and project id, applies the LIMIT (reporting `hasMore` only without one, as PostHog
does), and can add latency, answer a scripted sequence of failures, trickle its answers
one byte at a time (`trickle`), as a congested link or a broken proxy does, or pad an answer
to any size (`answer_next_large`), streamed without holding it in memory.

Run it as a process: `python -m demo.posthog_standin --port 8123 --weeks 12`, or with
the events a test also sends as webhooks: `--events-file events.json` (see `dump_events`).
With `--port 0` it picks a free port; its first line on stdout names the URL.
"""

import argparse
import dataclasses
import datetime as dt
import json
import re
import signal
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from demo import hogql
from demo.events import Event, dump_events, generate_events, load_events, week_start, weekly_truth
from demo.hogql import DEFAULT_TEST_ACCOUNT_FILTERS

__all__ = [
    "DEFAULT_TEST_ACCOUNT_FILTERS",
    "Event",
    "PostHogStub",
    "ScriptedResponse",
    "Trickle",
    "dump_events",
    "generate_events",
    "load_events",
    "main",
    "week_start",
    "weekly_truth",
]

LIMIT_EXPR = re.compile(r"\bLIMIT (\d+)\s*$")
PATH_EXPR = re.compile(r"^/api/(?:projects|environments)/(\d+)/query/?$")
CAPTURE_PATH = "/demo/capture"


@dataclasses.dataclass(frozen=True)
class Trickle:
    """How much of one trickled answer was written before the client hung up (or all of it)."""

    sent: int
    total: int


@dataclasses.dataclass(frozen=True)
class LargeAnswer:
    """The next computed answer, padded to `size` bytes; see `PostHogStub.answer_next_large`."""

    size: int
    length: bool = True
    stall_after: int | None = None


@dataclasses.dataclass
class ScriptedResponse:
    status: int
    body: dict | str
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


class PostHogStub:
    """The stub server; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        *,
        events: list[Event] | None = None,
        project_id: str = "12345",
        api_key: str = "phx_testkey",
        latency: float = 0.0,
        timezone: str = "UTC",
        test_account_filters: list[dict] | None = None,
        max_weeks_per_query: int | None = None,
        accept_captures: bool = False,
    ) -> None:
        self.events = list(events or [])
        # The demo's sender records each event it delivers here first (POST CAPTURE_PATH, one
        # event in dump_events' shape), as PostHog stores an event before its destinations
        # deliver it; so a sync agrees with what the webhook counted.
        self.accept_captures = accept_captures
        # The project's "internal and test users" filters, in PostHog's shape.
        self.test_account_filters = (
            DEFAULT_TEST_ACCOUNT_FILTERS if test_account_filters is None else test_account_filters
        )
        # Longer ranges are answered 512 "too heavy", as PostHog answers a costly query.
        self.max_weeks_per_query = max_weeks_per_query
        self.project_id = project_id
        self.api_key = api_key
        self.latency = latency
        self.timezone = timezone  # what the stub reports as the project's time zone
        self.scripted: list[ScriptedResponse] = []
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.barrier_before_answer: threading.Event | None = None
        # Set when a query arrives: a test can act while the sync waits for the answer.
        self.query_received = threading.Event()
        self.trickle_seconds_per_byte = 0.0
        self.trickle_headers = True
        self.trickle_length = True
        self.trickles: list[Trickle] = []
        self.large_next: list[LargeAnswer] = []
        self.large_answers: list[Trickle] = []  # how much of each large answer was written
        self._trickle_ended = threading.Condition(self._lock)
        self._stopping = threading.Event()

    # --- lifecycle ---------------------------------------------------------------------
    def start(self, port: int = 0) -> "PostHogStub":
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                stub._handle(self)

            def log_message(self, format: str, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        # shutdown() waits for the next poll (0.5 s by default), and the tests stop one per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # ends answers still trickling
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "PostHogStub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def query_count(self) -> int:
        return len(self.requests)

    def fail_next(self, status: int, body: dict | str | None = None, **headers: str) -> None:
        """Answer the next query with this status (queue several for several queries)."""
        body = body if body is not None else {"detail": "scripted"}
        self.scripted.append(ScriptedResponse(status, body, headers))

    def trickle(self, *, seconds_per_byte: float, headers: bool = True, length: bool = True) -> None:
        """From now on send every answer one byte per `seconds_per_byte`: from its status line
        on, or (`headers=False`) status line and headers at once, then the body byte by byte.
        With `length=False` no Content-Length is sent: the body ends when the connection does."""
        self.trickle_seconds_per_byte = seconds_per_byte
        self.trickle_headers = headers
        self.trickle_length = length

    def wait_for_trickles(self, count: int, *, timeout: float) -> list[Trickle]:
        """The first `count` trickled answers, once each has ended (all sent, or hung up on)."""
        with self._trickle_ended:
            self._trickle_ended.wait_for(lambda: len(self.trickles) >= count, timeout=timeout)
            return list(self.trickles)

    def answer_next(self, body: dict | str, status: int = HTTPStatus.OK, **headers: str) -> None:
        """Answer the next query with this body instead of the computed one (e.g. a malformed answer)."""
        self.scripted.append(ScriptedResponse(status, body, headers))

    def answer_next_large(self, size: int, *, length: bool = True, stall_after: int | None = None) -> None:
        """Answer the next query (that gets a computed answer) with it padded to `size` bytes:
        valid JSON, the true rows plus a `padding` string, written 64 KiB at a time and never
        held in memory. Without `length`, no Content-Length: the body ends with the connection.
        With `stall_after`, only that many body bytes are written, then nothing until the stub
        stops (an answer that announces more than it sends)."""
        with self._lock:
            self.large_next.append(LargeAnswer(size, length, stall_after))

    def truth(self, *, tz_name: str, mode: int, event: str = "$pageview") -> dict[dt.date, tuple[int, int]]:
        return weekly_truth(self.events, tz_name=tz_name, mode=mode, event=event)

    # --- request handling ----------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length)
        if self.accept_captures and request.path == CAPTURE_PATH:
            return self._capture(request, raw)  # not a query: neither recorded nor scripted
        with self._lock:
            self.requests.append({"path": request.path, "headers": dict(request.headers), "body": raw})
            scripted = self.scripted.pop(0) if self.scripted else None
        self.query_received.set()
        if self.latency:
            time.sleep(self.latency)
        if self.barrier_before_answer is not None:
            self.barrier_before_answer.wait(timeout=30)
        if scripted:
            return self._send(request, scripted.status, scripted.body, scripted.headers)
        match = PATH_EXPR.match(request.path)
        if not match:
            return self._send(request, HTTPStatus.NOT_FOUND, {"detail": "Not found."})
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._send(
                request,
                HTTPStatus.UNAUTHORIZED,
                {
                    "type": "authentication_error",
                    "code": "authentication_failed",
                    "detail": "Invalid personal API key.",
                },
            )
        if match.group(1) != self.project_id:
            return self._send(request, HTTPStatus.NOT_FOUND, {"detail": "Not found."})
        try:
            payload = json.loads(raw)
            query = payload["query"]
            refused = hogql.too_heavy(query["query"], max_weeks=self.max_weeks_per_query)
            if refused:
                return self._send(request, 512, refused)
            answer = hogql.answer(
                query["query"],
                query.get("values") or {},
                query.get("filters"),
                events=self.events,
                timezone=self.timezone,
                test_account_filters=self.test_account_filters,
            )
        except (ValueError, KeyError, TypeError) as err:
            return self._send(
                request,
                HTTPStatus.BAD_REQUEST,
                {"type": "validation_error", "code": "invalid_input", "detail": str(err)},
            )
        with self._lock:
            large = self.large_next.pop(0) if self.large_next else None
        if large:
            return self._send_large(request, answer, large)
        self._send(request, HTTPStatus.OK, answer)

    def _capture(self, request: BaseHTTPRequestHandler, raw: bytes) -> None:
        try:
            (event,) = load_events(b"[" + raw + b"]")
        except (ValueError, KeyError, TypeError) as err:
            return self._send(request, HTTPStatus.BAD_REQUEST, {"detail": f"not an event: {err}"})
        with self._lock:
            if all(e.uuid != event.uuid for e in self.events[-1000:]):
                self.events = [*self.events, event]  # a new list: a running answer keeps its own
        self._send(request, HTTPStatus.OK, {"status": 1})

    def _send(
        self,
        request: BaseHTTPRequestHandler,
        status: int,
        body: dict | str,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        if self.trickle_seconds_per_byte:
            content_type = "application/json" if isinstance(body, dict) else "text/plain"
            return self._trickle(request, status, data, {"Content-Type": content_type, **(headers or {})})
        request.send_response(status)
        request.send_header("Content-Type", "application/json" if isinstance(body, dict) else "text/plain")
        request.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(data)

    def _send_large(self, request: BaseHTTPRequestHandler, answer: dict, large: LargeAnswer) -> None:
        head, tail = b'{"padding": "', b'", ' + json.dumps(answer).encode()[1:]
        padding = max(0, large.size - len(head) - len(tail))
        total = len(head) + padding + len(tail)
        chunk = b"x" * (64 * 1024)
        sent = 0
        request.close_connection = True
        try:
            request.send_response(HTTPStatus.OK)
            request.send_header("Content-Type", "application/json")
            if large.length:
                request.send_header("Content-Length", str(total))
            else:
                request.send_header("Connection", "close")
            request.end_headers()
            request.wfile.write(head)
            sent = len(head)
            end = total - len(tail) if large.stall_after is None else min(large.stall_after, total)
            while sent < end and not self._stopping.is_set():
                part = chunk[: min(len(chunk), end - sent)]
                request.wfile.write(part)
                sent += len(part)
            if large.stall_after is not None:
                self._stopping.wait()
            else:
                request.wfile.write(tail)
                sent += len(tail)
        except OSError:
            pass  # the client hung up
        finally:
            with self._lock:
                self.large_answers.append(Trickle(sent=sent, total=total))

    def _trickle(
        self, request: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str]
    ) -> None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:  # PostHog's own 512 has no standard phrase
            phrase = ""
        lines = [f"HTTP/1.1 {status} {phrase}"]
        sizes = {"Content-Length": len(data)} if self.trickle_length else {"Connection": "close"}
        lines += [f"{name}: {value}" for name, value in {**headers, **sizes}.items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        answer = head + data
        sent = 0
        request.close_connection = True
        try:
            if not self.trickle_headers:
                request.wfile.write(head)
                sent = len(head)
            # One byte per step, so the loop ends with the answer (or when the client hangs up).
            while sent < len(answer) and not self._stopping.wait(self.trickle_seconds_per_byte):
                request.wfile.write(answer[sent : sent + 1])
                sent += 1
        except OSError:
            pass  # the client hung up
        finally:
            with self._trickle_ended:
                self.trickles.append(Trickle(sent=sent, total=len(answer)))
                self._trickle_ended.notify_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--project-id", default="12345")
    parser.add_argument("--api-key", default="phx_testkey")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument(
        "--trickle-seconds-per-byte",
        type=float,
        default=0.0,
        help="send every answer one byte at a time, this many seconds apart",
    )
    parser.add_argument(
        "--events-file", help="serve these events (JSON, see dump_events) instead of generated ones"
    )
    parser.add_argument("--timezone", default="UTC", help="the project time zone the stub reports")
    parser.add_argument(
        "--accept-captures", action="store_true", help=f"store events POSTed to {CAPTURE_PATH} (the demo)"
    )
    args = parser.parse_args()
    if args.events_file:
        with open(args.events_file) as file:
            events = load_events(file.read())
    else:
        events = generate_events(weeks=args.weeks, seed=args.seed)
    stub = PostHogStub(
        events=events,
        project_id=args.project_id,
        api_key=args.api_key,
        latency=args.latency,
        timezone=args.timezone,
        accept_captures=args.accept_captures,
    )
    if args.trickle_seconds_per_byte:
        stub.trickle(seconds_per_byte=args.trickle_seconds_per_byte)
    stub.start(args.port)
    print(f"PostHog stub on {stub.url} (project {args.project_id}, {len(events)} events)", flush=True)
    # Stop cleanly on SIGTERM (how tests and benchmarks stop it) as on Ctrl-C.
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    stub.stop()


if __name__ == "__main__":
    main()
