"""Benchmark: webhook answer times while slow clients drip, gunicorn alone and behind nginx
(prints figures; not a test).

One stack, set up as docs/deploying.md says: `scripts/serve` with gunicorn.conf.py's own
sizes (2 processes x 4 threads) on a fresh PostgreSQL database, and Debian's nginx running
deploy/nginx/visitorsync.conf in front of it (TLS with a self-signed certificate; the same
setup as tests/test_proxy.py). For each target, gunicorn's own port and nginx's https port,
it sends `--deliveries` authenticated webhook deliveries spread evenly over `--window`
seconds, first with no other traffic, then while `--slow-clients` connections each send one
byte of an unfinished request every `--interval` seconds (tests/support/slow_clients.py; `--bodies`
of them drip the body of a delivery after whole headers). The slow clients leave at the end
of the window. A delivery's answer time runs from its send to its answer.

Last, it leaves four clients dripping their headers to nginx until nginx drops them, and
prints after how long (client_header_timeout).

    .venv/bin/python bench/webhook_slow_clients.py
    .venv/bin/python bench/webhook_slow_clients.py --deliveries 100 --window 8 --rounds 2
"""

import argparse
import concurrent.futures
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.nginx import start_proxy, tls_context  # noqa: E402
from tests.support.slow_clients import SlowClients  # noqa: E402
from tests.support.stack import (  # noqa: E402
    free_port,
    fresh_postgres_database,
    serve_env,
    start_process,
    start_serve,
    stop_group,
    wait_until_serving,
)

SECRET = "bench-slow-clients-secret-" + "s" * 20


def delivery_body() -> bytes:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return json.dumps(
        {
            "event": {
                "uuid": str(uuid.uuid4()),
                "event": "$pageview",
                "distinct_id": "distinct-1",
                "properties": {"$current_url": "https://example.com/", "$pathname": "/"},
                "timestamp": stamp,
                "elements_chain": "",
            },
            "person": {"id": f"person-{uuid.uuid4()}", "name": "someone", "properties": {}},
        }
    ).encode()


def deliver(
    base: str, *, at: float, timeout: float, verify: str, http: requests.Session | None = None
) -> tuple[float, float | None, str]:
    """Wait until `at` (monotonic), send one delivery (on a new connection unless `http` is
    given); (sent, answered or None, outcome)."""
    time.sleep(max(0.0, at - time.monotonic()))
    sent = time.monotonic()
    try:
        response = (http or requests).post(
            f"{base}/api/webhooks/posthog",
            data=delivery_body(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"},
            verify=verify,
            timeout=timeout,
        )
    except requests.RequestException as err:
        return sent, None, type(err).__name__
    outcome = response.json().get("status", "?") if response.status_code == 200 else str(response.status_code)
    return sent, time.monotonic(), outcome


def phase(base: str, *, args, verify: str, slow: SlowClients | None) -> dict:
    """`args.deliveries` deliveries over `args.window` seconds, with `slow` connected meanwhile."""
    step = args.window / args.deliveries
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.deliveries) as pool:
        if slow:
            slow.__enter__()
        start = time.monotonic()
        futures = [
            pool.submit(deliver, base, at=start + n * step, timeout=args.timeout, verify=verify)
            for n in range(args.deliveries)
        ]
        left = None
        if slow:
            time.sleep(max(0.0, start + args.window - time.monotonic()))
            still_connected = slow.open
            slow.__exit__(None, None, None)
            left = time.monotonic()
        results = [future.result() for future in futures]
    answered = [(sent, done) for sent, done, _ in results if done is not None]
    times = sorted(done - sent for sent, done in answered)
    outcomes: dict[str, int] = {}
    for _, _, outcome in results:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return {
        "times": times,
        "during": sum(1 for _, done in answered if left is None or done < left),
        "outcomes": outcomes,
        "still_connected": still_connected if slow else None,
    }


def describe(times: list[float]) -> tuple[str, str, str]:
    if not times:
        return "-", "-", "-"
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]

    def fmt(seconds: float) -> str:
        return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"

    return fmt(statistics.median(times)), fmt(p95), fmt(times[-1])


def load(base: str, *, deliveries: int, clients: int, verify: str) -> tuple[float, list[float], dict]:
    """`deliveries` deliveries from `clients` at once, each client on its own keep-alive
    connection as PostHog's would be, no slow clients: (per second, times, outcomes)."""
    sessions = threading.local()

    def one(_: int):
        if not hasattr(sessions, "http"):
            sessions.http = requests.Session()
        return deliver(base, at=0, timeout=30, verify=verify, http=sessions.http)

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(one, range(deliveries)))
    rate = deliveries / (time.monotonic() - started)
    outcomes: dict[str, int] = {}
    for _, _, outcome in results:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return rate, sorted(done - sent for sent, done, _ in results if done is not None), outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=40, help="per phase")
    parser.add_argument("--window", type=float, default=5.0, help="seconds over which they are sent")
    parser.add_argument("--slow-clients", type=int, default=64)
    parser.add_argument("--bodies", type=int, default=16, help="of the slow clients, how many drip a body")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between a slow client's bytes")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a delivery may wait")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--load-deliveries", type=int, default=640, help="for the throughput table; 0: skip it"
    )
    parser.add_argument("--load-clients", type=int, default=32)
    parser.add_argument(
        "--asgi",
        action="store_true",
        help="also measure gunicorn's own asyncio worker (-k asgi visitorsync.asgi) without a proxy",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server; a fresh database is created on it and dropped afterwards",
    )
    parser.add_argument("--skip-timeouts", action="store_true", help="skip the nginx timeout check")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="bench-slow-clients-") as tmp_name,
        fresh_postgres_database(args.database_url, prefix="bench_slow") as database_url,
    ):
        tmp = Path(tmp_name)
        processes = []
        try:
            port = free_port()
            env = serve_env(
                database_url=database_url,
                port=port,
                static_root=tmp / "static",
                POSTHOG_WEBHOOK_SECRET=SECRET,
                GUNICORN_LOG_LEVEL="warning",
            )
            serve_log = tmp / "serve.log"
            server = start_serve(env, log_path=serve_log, port=port)
            processes.append(server)
            proxy = start_proxy(tmp, upstream_port=port)
            processes.append(proxy.process)
            certificate, https_port = proxy.certificate, proxy.https_port
            targets = [
                ("gunicorn alone", f"http://127.0.0.1:{port}", port, None),
                (
                    "nginx -> gunicorn",
                    f"https://127.0.0.1:{https_port}",
                    https_port,
                    tls_context(certificate),
                ),
            ]
            if args.asgi:
                # The same config with gunicorn's asyncio worker, on the migrated database.
                # Persistent connections leak under ASGI (each request is its own context),
                # so CONN_MAX_AGE=0: one new PostgreSQL connection per request.
                asgi_port = free_port()
                asgi_env = {**env, "GUNICORN_BIND": f"127.0.0.1:{asgi_port}", "CONN_MAX_AGE": "0"}
                asgi_log = tmp / "asgi.log"
                command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-k", "asgi"]
                asgi = start_process([*command, "visitorsync.asgi"], env=asgi_env, log_path=asgi_log)
                processes.append(asgi)
                wait_until_serving(f"http://127.0.0.1:{asgi_port}/api/sync", asgi, asgi_log, timeout=90)
                targets.append(("gunicorn -k asgi alone", f"http://127.0.0.1:{asgi_port}", asgi_port, None))
            time.sleep(2)  # every gunicorn worker has loaded the app and is accepting

            rows = []
            for _ in range(args.rounds):
                for slow_count in (0, args.slow_clients):
                    for name, base, target_port, tls in targets:
                        slow = None
                        if slow_count:
                            slow = SlowClients(
                                target_port,
                                count=slow_count,
                                bodies=args.bodies,
                                secret=SECRET,
                                interval=args.interval,
                                seconds=args.window + 5,
                                tls=tls,
                            )
                        result = phase(base, args=args, verify=str(certificate), slow=slow)
                        rows.append((name, slow_count, result))
                        print(f"  {name}, {slow_count} slow clients: {result['outcomes']}", flush=True)

            print()
            print(
                f"{args.deliveries} deliveries over {args.window:g} s per row; slow clients send a byte "
                f"every {args.interval:g} s ({args.bodies} of {args.slow_clients} drip a body), "
                "and leave at the end of the window."
            )
            print()
            print("| Target | Slow clients | Answered while they were connected | Median | p95 | Max |")
            print("|---|---:|---:|---:|---:|---:|")
            for name, slow_count, result in rows:
                median, p95, worst = describe(result["times"])
                during = f"{result['during']} of {args.deliveries}"
                if slow_count:
                    during += f" ({result['still_connected']} of {slow_count} still connected at the end)"
                print(f"| {name} | {slow_count} | {during} | {median} | {p95} | {worst} |")

            if args.load_deliveries:
                print()
                print(
                    f"{args.load_deliveries} deliveries from {args.load_clients} clients at once, "
                    "no slow clients:"
                )
                print()
                print("| Target | Deliveries/s | Median | p95 | Outcomes |")
                print("|---|---:|---:|---:|---|")
                for name, base, _, _ in targets:
                    rate, times, outcomes = load(
                        base,
                        deliveries=args.load_deliveries,
                        clients=args.load_clients,
                        verify=str(certificate),
                    )
                    median, p95, _ = describe(times)
                    print(f"| {name} | {rate:.0f} | {median} | {p95} | {outcomes} |")

            if not args.skip_timeouts:
                print()
                lingering = SlowClients(
                    https_port, count=4, interval=args.interval, seconds=30, tls=targets[1][3]
                )
                with lingering:
                    deadline = time.monotonic() + 30
                    while lingering.open and time.monotonic() < deadline:
                        time.sleep(0.2)
                closed = ", ".join(f"{seconds:.1f} s" for seconds in sorted(lingering.closed_by_server))
                print(
                    f"nginx dropped {len(lingering.closed_by_server)} of 4 clients dripping their headers "
                    f"after (client_header_timeout): {closed or '-'}"
                )
        finally:
            for process in reversed(processes):
                stop_group(process)


if __name__ == "__main__":
    main()
