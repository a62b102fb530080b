"""How long the webhook takes to answer 503 when PostgreSQL stops answering (prints figures).

Starts `scripts/serve` (gunicorn, one worker and one thread, so every request uses the same
database connection in turn) on a fresh PostgreSQL database reached through tests/support/tcp_proxy.py.
Each round: a delivery (200, the connection is open), `blackhole()` (the proxy keeps every
connection open but forwards nothing, and accepts new ones that never complete), then two
deliveries timed from the blackhole: the first waits on the open connection, the second has
to open a new one. Then `restore()` and PostHog's retry must be counted.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/webhook_db_outage.py --rounds 5
    ... bench/webhook_db_outage.py --set VISITORSYNC_WEBHOOK_DB_TIMEOUT=2 --set DATABASE_CONNECT_TIMEOUT=3

DATABASE_URL names the server (a fresh database is created on it and dropped afterwards).
Before the database timeouts, the first delivery of a round never got an answer.
"""

import argparse
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
HEADERS = {
    "Content-Type": "application/json",
    "Authorization": f"Bearer {PRODUCTION_ENV['POSTHOG_WEBHOOK_SECRET']}",
}


def body(event_uuid: str) -> bytes:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 60))
    event = {"uuid": event_uuid, "event": "$pageview", "distinct_id": "d-1", "timestamp": stamp}
    return json.dumps({"event": event, "person": {"id": "person-1"}}).encode()


def post(port: int, payload: bytes) -> tuple[int, str | None, float]:
    """(status, Retry-After, seconds); a 60 s client timeout so a hang still ends."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.monotonic()
    try:
        conn.request("POST", PATH, body=payload, headers=HEADERS)
        response = conn.getresponse()
        response.read()
        return response.status, response.headers.get("Retry-After"), time.monotonic() - started
    except TimeoutError:
        return 0, None, time.monotonic() - started
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
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

    samples: dict[str, list[float]] = {"open connection": [], "new connection": []}
    with (
        fresh_postgres_database(server, prefix="bench_outage") as direct,
        tempfile.TemporaryDirectory() as tmp,
    ):
        params = psycopg.conninfo.conninfo_to_dict(direct)
        with TcpProxy(target=(params["host"], int(params["port"]))) as proxy:
            proxied = direct.replace(f"@{params['host']}:{params['port']}/", f"@127.0.0.1:{proxy.port}/")
            port = free_port()
            env = serve_env(
                database_url=proxied,
                port=port,
                static_root=Path(tmp) / "static",
                workers=1,
                threads=1,
                **dict(item.split("=", 1) for item in args.set),
            )
            log_path = Path(tmp) / "serve.log"
            process = start_serve(env, log_path=log_path, port=port, path=PATH)
            try:
                for round_number in range(1, args.rounds + 1):
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
                        print(
                            f"round {round_number}, {path}: {status} Retry-After={retry_after} {seconds:.2f}s"
                        )
                    proxy.restore()
                    status, _, _ = post(port, retried)
                    assert status == 200, f"PostHog's retry after the outage got {status}"
            finally:
                stop_group(process)
    print()
    print("| Delivery during the outage | median | max | rounds |")
    print("|---|---|---|---|")
    for path, values in samples.items():
        print(f"| {path} | {statistics.median(values):.2f} s | {max(values):.2f} s | {len(values)} |")


if __name__ == "__main__":
    main()
