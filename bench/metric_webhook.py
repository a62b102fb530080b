"""Webhook load with the 2 built-in metrics and with 6 metrics, on PostgreSQL (prints figures).

Two configurations, each on a fresh PostgreSQL database under gunicorn (production settings,
`-w 2 --threads 8`), driven by 32 keep-alive clients on 127.0.0.1 with the same deliveries:
`$pageview` events carrying `plan` and `amount` properties, about 10% redelivered.

1. built-ins only: visitors and pageviews (the metrics every install has);
2. six metrics: the built-ins plus one of each other kind, all on `$pageview` so every delivery
   counts for every one of them (the most work a delivery can do): a count (plan is set), a
   unique (plan exact pro/team), a sum (amount) and a ratio (count / visitors, never stored).

Each configuration first measures the trivial GET health document (the stack's ceiling in the
same run), then the webhook. It prints throughput and p99 of both configurations and the
ratio, and checks the stored numbers against what was sent.

    .venv/bin/python bench/metric_webhook.py --clients 32 --duration 15
"""

import argparse
import collections
import datetime as dt
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webhook_load import (  # the sibling bench, on the path just above
    PATH,
    ROOT,
    SECRET,
    free_port,
    prepare_database,
    run_clients,
    server_env,
    wait_until_up,
    week_start,
)

METRICS = {
    "metrics": [
        {
            "key": "planned_views",
            "name": "Views with a plan",
            "kind": "count",
            "events": ["$pageview"],
            "properties": [{"key": "plan", "operator": "is_set"}],
        },
        {
            "key": "paying_visitors",
            "name": "Paying visitors",
            "kind": "unique",
            "events": ["$pageview"],
            "properties": [{"key": "plan", "operator": "exact", "value": ["pro", "team"]}],
        },
        {"key": "amount", "name": "Amount", "kind": "sum", "events": ["$pageview"], "property": "amount"},
        {
            "key": "views_per_visitor",
            "name": "Views per visitor",
            "kind": "ratio",
            "numerator": "planned_views",
            "denominator": "visitors",
        },
    ]
}


def client_thread(port, seconds, mode, seed, out, visitors):
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"}
    sent: list[bytes] = []
    latencies, statuses = [], collections.Counter()
    events = []  # (week, visitor, amount) of every distinct event
    now = dt.datetime.now(dt.UTC)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if mode == "trivial":
            method, body = "GET", None
        elif sent and rng.random() < 0.10:
            method, body = "POST", rng.choice(sent)
        else:
            method = "POST"
            stamp = (now - dt.timedelta(seconds=rng.uniform(0, 3 * 7 * 86400))).isoformat()
            visitor = f"visitor-{rng.randrange(visitors)}"
            amount = rng.randrange(1, 10_000) / 100
            payload = {
                "event": {
                    "uuid": str(uuid.uuid4()),
                    "event": "$pageview",
                    "distinct_id": visitor,
                    "properties": {"$pathname": "/pricing", "plan": "pro", "amount": amount},
                    "timestamp": stamp,
                },
                "person": {"id": visitor, "properties": {}},
            }
            body = json.dumps(payload).encode()
            sent.append(body)
            events.append((week_start(stamp).isoformat(), visitor, amount))
        started = time.perf_counter()
        try:
            conn.request(method, PATH, body=body, headers=headers if method == "POST" else {})
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status = 0
        latencies.append(time.perf_counter() - started)
        statuses[status] += 1
    conn.close()
    out.append((latencies, statuses, events))


def load(port: int, *, clients: int, seconds: float, mode: str, processes: int, visitors: int) -> dict:
    parts = run_clients(
        client_thread,
        port,
        clients=clients,
        seconds=seconds,
        mode=mode,
        processes=processes,
        visitors=visitors,
    )
    latencies = sorted(lat for part in parts for lat in part[0])
    return {
        "rate": len(latencies) / seconds,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "statuses": sum((part[1] for part in parts), collections.Counter()),
        "events": [event for part in parts for event in part[2]],
    }


def stored(url: str) -> tuple[dict, dict]:
    import psycopg

    with psycopg.connect(url) as conn:
        week_rows = conn.execute(
            "SELECT week_start, visitors, pageviews FROM metrics_weeklymetric"
        ).fetchall()
        values = conn.execute(
            "SELECT v.week_start, m.key, v.value FROM metrics_metricvalue v "
            "JOIN metrics_metric m ON m.id = v.metric_id"
        ).fetchall()
    return {w.isoformat(): (v, p) for w, v, p in week_rows}, {(w.isoformat(), k): x for w, k, x in values}


def truth(events: list) -> tuple[dict, dict]:
    persons, views, amounts = collections.defaultdict(set), collections.Counter(), collections.Counter()
    for week, visitor, amount in events:
        persons[week].add(visitor)
        views[week] += 1
        amounts[week] += amount
    built_ins = {week: (len(persons[week]), views[week]) for week in views}
    metrics = {}
    for week in views:
        metrics[week, "planned_views"] = views[week]
        metrics[week, "paying_visitors"] = len(persons[week])
        metrics[week, "amount"] = amounts[week]
    return built_ins, metrics


def run(config: str, args, workdir: Path) -> dict:
    url, _rows = prepare_database("postgres", args.pg_admin_url, f"{args.pg_database}_{config}", workdir)
    env = server_env(url)
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "-v0", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    if config == "six":
        path = workdir / "metrics.json"
        path.write_text(json.dumps(METRICS))
        subprocess.run(
            [*manage, "import_metrics", str(path)], cwd=ROOT, env=env, check=True, capture_output=True
        )
    port = free_port()
    with open(workdir / f"gunicorn-{config}.log", "w") as log:
        server = subprocess.Popen(
            [
                *(str(Path(sys.executable).parent / "gunicorn"), "visitorsync.wsgi"),
                *("-w", str(args.workers), "--threads", str(args.threads)),
                *("-b", f"127.0.0.1:{port}", "--keep-alive", "30"),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_up(port, server)
            common = {"clients": args.clients, "seconds": args.duration, "processes": args.client_processes}
            trivial = load(port, mode="trivial", visitors=1, **common)
            webhook = load(port, mode="webhook", visitors=args.visitors, **common)
        finally:
            server.terminate()
            server.wait(timeout=30)
    week_rows, values = stored(url)
    expected_weeks, expected_values = truth(webhook["events"])
    exact = week_rows == expected_weeks
    if config == "six":
        exact = exact and values.keys() == expected_values.keys()
        exact = exact and all(
            abs(values[k] - v) < 1e-6 * max(1.0, abs(v)) for k, v in expected_values.items()
        )
    return {"trivial": trivial, "webhook": webhook, "exact": exact}


def describe(phase: dict) -> str:
    failed = sum(n for status, n in phase["statuses"].items() if status != 200)
    return (
        f"{phase['rate']:7.0f} req/s  p50 {phase['p50']:6.1f} ms  p99 {phase['p99']:6.1f} ms  "
        f"non-200 {failed}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per phase")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--visitors", type=int, default=5000)
    parser.add_argument("--pg-admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--pg-database", default="bench_metric_webhook")
    args = parser.parse_args()
    print(
        f"visitorsync webhook with user-defined metrics: {args.clients} clients, {args.duration:.0f} s per "
        f"phase; gunicorn -w {args.workers} --threads {args.threads}; PostgreSQL; {os.cpu_count()} CPU(s)",
        flush=True,
    )
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for config, label in (("two", "2 built-ins"), ("six", "6 metrics")):
            results[config] = result = run(config, args, Path(tmp))
            print(f"\n== {label}")
            print(f"  trivial GET  {describe(result['trivial'])}")
            print(f"  webhook POST {describe(result['webhook'])}")
            share = result["webhook"]["rate"] / result["trivial"]["rate"]
            print(
                f"  webhook/trivial: {share:.0%}; stored numbers equal what was sent: {result['exact']}",
                flush=True,
            )
    ratio = results["six"]["webhook"]["rate"] / results["two"]["webhook"]["rate"]
    print(f"\n6-metric / 2-metric webhook throughput: {ratio:.0%} (target at least 75%)")
    print(f"6-metric p99: {results['six']['webhook']['p99']:.1f} ms (target under 150 ms)")


if __name__ == "__main__":
    main()
