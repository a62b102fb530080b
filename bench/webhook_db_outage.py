"""How long the webhook takes to answer 503 when PostgreSQL stops answering (prints figures).

Starts `scripts/serve` (gunicorn) on a fresh PostgreSQL database reached through
tests/support/tcp_proxy.py, whose `blackhole()` keeps every connection open but forwards
nothing, and accepts new ones that never complete: a hung server or a stalled pooler.

`--scenario outage` (the default): one worker and one thread, so every request uses the same
database connection in turn. Each round: a delivery (200, the connection is open),
`blackhole()`, then two deliveries timed from the blackhole: the first waits on the open
connection, the second has to open a new one. Then `restore()` and PostHog's retry must be
counted.

`--scenario pinned`: gunicorn's own sizes (gunicorn.conf.py: 2 processes of 4 threads). Each
round: `blackhole()`, 24 `GET /api/sync` at once (more than every thread), and 0.5 s later a
delivery, timed; then `restore()`, and PostHog's retry must be counted once the database
answers again. The same round without the blackhole is the baseline, measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/webhook_db_outage.py --rounds 5
    ... bench/webhook_db_outage.py --scenario pinned --rounds 10
    ... bench/webhook_db_outage.py --set VISITORSYNC_WEBHOOK_DB_TIMEOUT=2 --set DATABASE_CONNECT_TIMEOUT=3

DATABASE_URL names the server (a fresh database is created on it and dropped afterwards).
Before the database timeouts, the first delivery of an outage round never got an answer;
before the request deadline, the delivery of a pinned round got none within 60 s.
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from tests.support.stack import (  # noqa: E402
    PRODUCTION_ENV,
    free_port,
    fresh_postgres_database,
    serve_env,
    start_serve,
    stop_group,
)
from tests.support.tcp_proxy import TcpProxy  # noqa: E402

PATH = "/api/webhooks/posthog"
STATUS_PATH = "/api/sync"
HEADERS = {
    "Content-Type": "application/json",
    "Authorization": f"Bearer {PRODUCTION_ENV['POSTHOG_WEBHOOK_SECRET']}",
}
# A client that waits longer than this gets no answer (PostHog itself gives up after 10 s).
CLIENT_TIMEOUT = 60
PINNED_REQUESTS = 24


def body(event_uuid: str) -> bytes:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 60))
    event = {"uuid": event_uuid, "event": "$pageview", "distinct_id": "d-1", "timestamp": stamp}
    return json.dumps({"event": event, "person": {"id": "person-1"}}).encode()


def request(port: int, method: str, path: str, payload: bytes | None = None) -> tuple[int, str | None, float]:
    """(status, Retry-After, seconds); status 0 when no answer came within CLIENT_TIMEOUT."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    started = time.monotonic()
    try:
        conn.request(method, path, body=payload, headers=HEADERS if payload is not None else {})
        response = conn.getresponse()
        response.read()
        return response.status, response.headers.get("Retry-After"), time.monotonic() - started
    except (TimeoutError, ConnectionError):
        return 0, None, time.monotonic() - started
    finally:
        conn.close()


def post(port: int, payload: bytes) -> tuple[int, str | None, float]:
    return request(port, "POST", PATH, payload)


def outage_rounds(port: int, proxy: TcpProxy, rounds: int) -> None:
    samples: dict[str, list[float]] = {"open connection": [], "new connection": []}
    for round_number in range(1, rounds + 1):
        status, _, _ = post(port, body(str(uuid.uuid4())))
        assert status == 200, status
        retried = body(str(uuid.uuid4()))
        proxy.blackhole()
        blackholed_at = time.monotonic()
        for path in samples:
            status, retry_after, _ = post(port, retried)
            seconds = time.monotonic() - blackholed_at
            blackholed_at = time.monotonic()
            samples[path].append(seconds)
            print(f"round {round_number}, {path}: {status} Retry-After={retry_after} {seconds:.2f}s")
        proxy.restore()
        retry_until_counted(port, retried)
    print()
    print("| Delivery during the outage | median | max | rounds |")
    print("|---|---|---|---|")
    for path, values in samples.items():
        print(f"| {path} | {statistics.median(values):.2f} s | {max(values):.2f} s | {len(values)} |")


def retry_until_counted(port: int, payload: bytes) -> None:
    """PostHog's retries after `restore()`: 200 once the database answers again."""
    started = time.monotonic()
    while True:
        status, _, _ = post(port, payload)
        if status == 200:
            return
        assert status == 503, f"PostHog's retry after the outage got {status}"
        assert time.monotonic() - started < CLIENT_TIMEOUT, "the database never answered again"
        time.sleep(0.5)


def pinned_round(port: int, proxy: TcpProxy, *, blackhole: bool) -> tuple[int, float, dict[int, int]]:
    """One round: (the delivery's status, its seconds, the status requests' outcomes by status)."""
    retried = body(str(uuid.uuid4()))
    with concurrent.futures.ThreadPoolExecutor(max_workers=PINNED_REQUESTS) as pool:
        if blackhole:
            proxy.blackhole()
        pinned = [pool.submit(request, port, "GET", STATUS_PATH) for _ in range(PINNED_REQUESTS)]
        time.sleep(0.5)
        status, _, seconds = post(port, retried)
        if blackhole:
            proxy.restore()
        outcomes: dict[int, int] = {}
        for future in pinned:
            code = future.result()[0]
            outcomes[code] = outcomes.get(code, 0) + 1
    retry_until_counted(port, retried)
    return status, seconds, outcomes


def pinned_rounds(port: int, proxy: TcpProxy, rounds: int) -> None:
    samples: dict[str, list[tuple[int, float]]] = {"database answering": [], "database blackholed": []}
    for round_number in range(1, rounds + 1):
        for name in samples:
            status, seconds, outcomes = pinned_round(port, proxy, blackhole=name == "database blackholed")
            samples[name].append((status, seconds))
            shown = ", ".join(f"{count} x {code or 'no answer'}" for code, count in sorted(outcomes.items()))
            print(
                f"round {round_number}, {name}: delivery {status or 'no answer'} in {seconds:.2f}s; "
                f"{PINNED_REQUESTS} x GET {STATUS_PATH}: {shown}"
            )
    print()
    print(f"| Delivery with {PINNED_REQUESTS} GET {STATUS_PATH} at once | answers | median | max | rounds |")
    print("|---|---|---|---|---|")
    for name, values in samples.items():
        statuses: dict[int, int] = {}
        for status, _ in values:
            statuses[status] = statuses.get(status, 0) + 1
        answers = ", ".join(f"{count} x {code or 'none'}" for code, count in sorted(statuses.items()))
        times = [seconds for _, seconds in values]
        median, longest = statistics.median(times), max(times)
        print(f"| {name} | {answers} | {median:.2f} s | {longest:.2f} s | {len(times)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", choices=("outage", "pinned"), default="outage")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the server, e.g. --set VISITORSYNC_WEBHOOK_DB_TIMEOUT=3",
    )
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/postgres")

    with (
        fresh_postgres_database(server, prefix="bench_outage") as direct,
        tempfile.TemporaryDirectory() as tmp,
    ):
        params = psycopg.conninfo.conninfo_to_dict(direct)
        with TcpProxy(target=(params["host"], int(params["port"]))) as proxy:
            proxied = direct.replace(f"@{params['host']}:{params['port']}/", f"@127.0.0.1:{proxy.port}/")
            port = free_port()
            # The outage scenario: one connection in turn; the pinned one: production's sizes.
            sizes = {"workers": 1, "threads": 1} if args.scenario == "outage" else {}
            env = serve_env(
                database_url=proxied,
                port=port,
                static_root=Path(tmp) / "static",
                **sizes,
                **dict(item.split("=", 1) for item in args.set),
            )
            process = start_serve(env, log_path=Path(tmp) / "serve.log", port=port, path=PATH)
            try:
                (outage_rounds if args.scenario == "outage" else pinned_rounds)(port, proxy, args.rounds)
            finally:
                stop_group(process)


if __name__ == "__main__":
    main()
