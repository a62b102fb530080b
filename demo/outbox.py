"""The demo's outbox: what visitorsync sent while the demo ran, on a page of its own.

The demo points visitorsync's mail at a folder (`EMAIL_URL=filemail://<folder>/mail`, Django's
file-based mail backend: every message as it would have gone out) and its alert webhook at
this server (`POST /alert-webhook`, kept as `<folder>/webhook/<n>.json`). `GET /` lists both,
newest first, so "Send a test report now" and "Send a test alert" show what they send.

`python -m demo.outbox --folder DIR [--port 0]` prints its address, serves until stopped.
"""

import argparse
import email
import email.policy
import html
import itertools
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

WEBHOOK_PATH = "/alert-webhook"
MAX_BODY = 1_000_000  # an alert post is a few hundred bytes


class Outbox:
    def __init__(self, folder: Path):
        self.mail = folder / "mail"
        self.webhook = folder / "webhook"
        self.mail.mkdir(parents=True, exist_ok=True)
        self.webhook.mkdir(parents=True, exist_ok=True)
        self._numbers = itertools.count(len(list(self.webhook.glob("*.json"))) + 1)
        self._lock = threading.Lock()

    def keep_post(self, body: bytes) -> None:
        with self._lock:
            number = next(self._numbers)
        (self.webhook / f"{number:05d}.json").write_bytes(body)

    def messages(self) -> list[tuple[str, str, str]]:
        """(when, to, subject + text body) of every mail, newest first. The file-based backend
        writes each connection's messages to one file, separated by a line of dashes."""
        found = []
        for path in sorted(self.mail.glob("*.log"), reverse=True):
            # As bytes: parsed from a str, an 8bit UTF-8 body (a euro sign) comes back escaped.
            for raw in reversed(path.read_bytes().split(b"-" * 79 + b"\n")):
                if not raw.strip():
                    continue
                message = email.message_from_bytes(raw, policy=email.policy.default)
                part = message.get_body(preferencelist=("plain",))
                text = part.get_content() if part is not None else ""
                when, to = str(message["Date"] or ""), str(message["To"] or "")
                found.append((when, to, f"{message['Subject']}\n\n{text}"))
        return found

    def posts(self) -> list[str]:
        posts = []
        for path in sorted(self.webhook.glob("*.json"), reverse=True):
            try:
                posts.append(json.dumps(json.loads(path.read_text()), indent=2))
            except ValueError:
                posts.append(path.read_text(errors="replace"))
        return posts

    def page(self) -> str:
        mail = "".join(
            f"<article><h3>To {html.escape(to)} <small>{html.escape(when)}</small></h3>"
            f"<pre>{html.escape(body)}</pre></article>"
            for when, to, body in self.messages()
        )
        posts = "".join(f"<article><pre>{html.escape(post)}</pre></article>" for post in self.posts())
        return PAGE.format(
            mail=mail or "<p>No mail yet: try “Send a test report now” on the sync page.</p>",
            posts=posts or "<p>No post yet: try “Send a test alert” on the sync page.</p>",
        )


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="10"><title>visitorsync demo: outbox</title>
<style>body{{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#1f2d33}}
h1{{color:#264b5d}}article{{border:1px solid #d8e0e4;border-radius:6px;margin:.75rem 0;padding:.25rem 1rem}}
pre{{white-space:pre-wrap;font-size:13px}}small{{color:#667;font-weight:normal}}</style></head><body>
<h1>visitorsync demo: outbox</h1>
<p>What the demo's visitorsync sent: mail (the weekly report, alerts) and alert webhook posts.
Nothing leaves this machine. The page reloads every 10 s.</p>
<h2>Mail</h2>{mail}<h2>Alert webhook posts</h2>{posts}</body></html>"""


def serve(outbox: Outbox, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/":
                self._answer(HTTPStatus.NOT_FOUND, "text/plain", b"not found")
                return
            self._answer(HTTPStatus.OK, "text/html; charset=utf-8", outbox.page().encode())

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if self.path != WEBHOOK_PATH or not 0 < length <= MAX_BODY:
                self._answer(HTTPStatus.BAD_REQUEST, "text/plain", b"POST a body to /alert-webhook")
                return
            outbox.keep_post(self.rfile.read(length))
            self._answer(HTTPStatus.OK, "application/json", b'{"ok": true}')

        def _answer(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = serve(Outbox(args.folder), args.port)
    print(f"outbox at http://127.0.0.1:{server.server_address[1]}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
