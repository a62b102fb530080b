"""Load benchmark of /api/webhooks/posthog under gunicorn (prints figures; not a test).

For each database (a fresh PostgreSQL database, then a fresh SQLite file) it migrates,
starts gunicorn with production-like settings (DEBUG off, a shared secret), and runs two
phases of the same length with the same number of keep-alive clients on 127.0.0.1:

1. the trivial endpoint: GET /api/webhooks/posthog (a small JSON document, no database):
   the ceiling of this stack on this machine, measured in the same run;
2. the webhook: POST unique $pageview events, about 10% of them redeliveries of an
   event the client sent before.

Then it checks that the stored weekly numbers equal the ground truth of what was sent
(distinct events and distinct visitors per week) and that every delivery row exists once.

    .venv/bin/python bench/webhook_load.py --clients 32 --duration 15
"""

import argparse
import collections
import datetime as dt
import http.client
import json
import multiprocessing
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import zoneinfo
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-webhook-secret-" + "s" * 20
PATH = "/api/webhooks/posthog"
TIMEZONE = "Europe/Berlin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def week_start(stamp: str) -> dt.date:
    day = dt.datetime.fromisoformat(stamp).astimezone(zoneinfo.ZoneInfo(TIMEZONE)).date()
    return day - dt.timedelta(days=day.weekday())  # Monday weeks, as configured below


# --- Clients (run in child processes, several threads each) --------------------------------
def client_thread(port, seconds, mode, seed, out, visitors):
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"}
    sent: list[bytes] = []
    latencies, statuses, answers = [], collections.Counter(), collections.Counter()
    events = []  # (uuid, week, visitor) of every distinct event this thread sent
    now = dt.datetime.now(dt.UTC)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if mode == "trivial":
            method, body = "GET", None
        elif sent and rng.random() < 0.10:
            method, body = "POST", rng.choice(sent)  # a redelivery
        else:
            method = "POST"
            stamp = (now - dt.timedelta(seconds=rng.uniform(0, 3 * 7 * 86400))).isoformat()
            event_id, visitor = str(uuid.uuid4()), f"visitor-{rng.randrange(visitors)}"
            payload = {
                "event": {
                    "uuid": event_id,
                    "event": "$pageview",
                    "distinct_id": visitor,
                    "properties": {"$current_url": "https://example.com/pricing", "$pathname": "/pricing"},
                    "timestamp": stamp,
                },
                "person": {"id": visitor, "properties": {}},
            }
            body = json.dumps(payload).encode()
            sent.append(body)
            events.append((event_id, week_start(stamp).isoformat(), visitor))
        started = time.perf_counter()
        try:
            conn.request(method, PATH, body=body, headers=headers if method == "POST" else {})
            response = conn.getresponse()
            data = response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status, data = 0, b""
        latencies.append(time.perf_counter() - started)
        statuses[status] += 1
        if method == "POST" and status == 200:
            answers[json.loads(data)["status"]] += 1
    conn.close()
    out.append((latencies, statuses, answers, events))


def client_process(args):
    thread, port, seconds, mode, seed, threads, visitors = args
    out: list = []
    workers = [
        threading.Thread(target=thread, args=(port, seconds, mode, seed * 1000 + n, out, visitors))
        for n in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return out


def run_clients(thread, port: int, *, clients: int, seconds: float, mode: str, processes: int, visitors: int):
    """`clients` threads running `thread` (a module-level function, so processes can take it),
    spread over `processes` processes; every thread's output, in one list."""
    per_process = [clients // processes + (1 if n < clients % processes else 0) for n in range(processes)]
    jobs = [
        (thread, port, seconds, mode, n + 1, count, visitors) for n, count in enumerate(per_process) if count
    ]
    with multiprocessing.Pool(len(jobs)) as pool:
        return [item for chunk in pool.map(client_process, jobs) for item in chunk]


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
    statuses = sum((part[1] for part in parts), collections.Counter())
    answers = sum((part[2] for part in parts), collections.Counter())
    events = [event for part in parts for event in part[3]]
    return {
        "requests": len(latencies),
        "rate": len(latencies) / seconds,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "statuses": statuses,
        "answers": answers,
        "events": events,
    }


# --- CPU per request, by party ----------------------------------------------------------------
def process_tree_cpu(pid: int) -> float:
    """CPU seconds of `pid` and its live descendants, each with its reaped children's
    (a gunicorn worker recycled by max_requests counts in the master's; an ended PostgreSQL
    backend in the postmaster's). 0 if /proc cannot tell (not Linux)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    children: dict[int, list[tuple[int, float]]] = collections.defaultdict(list)
    own = 0.0
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cpu = sum(int(value) for value in fields[11:15]) / ticks  # utime stime cutime cstime
        if int(entry.name) == pid:
            own = cpu
        children[int(fields[1])].append((int(entry.name), cpu))
    total, stack = own, [pid]
    while stack:
        for child, cpu in children.get(stack.pop(), []):
            total += cpu
            stack.append(child)
    return total


def postmaster_pid() -> int | None:
    """The local PostgreSQL server's main process, if this machine runs one (`pgrep`)."""
    try:
        found = subprocess.run(["pgrep", "-o", "-x", "postgres"], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return int(found.stdout.split()[0]) if found.stdout.split() else None


def measured(phase, server_pid: int, database_pid: int | None) -> dict:
    """Run `phase()` (a load) and add the CPU per request the server and the database spent."""
    before = (process_tree_cpu(server_pid), process_tree_cpu(database_pid) if database_pid else 0.0)
    result = phase()
    after = (process_tree_cpu(server_pid), process_tree_cpu(database_pid) if database_pid else 0.0)
    requests = max(1, result["requests"])
    result["server_cpu_ms"] = (after[0] - before[0]) / requests * 1000
    result["database_cpu_ms"] = (after[1] - before[1]) / requests * 1000 if database_pid else None
    return result


# --- Server ------------------------------------------------------------------------------
def prepare_database(kind: str, pg_admin_url: str, db_name: str, workdir: Path) -> tuple[str, callable]:
    if kind == "sqlite":
        path = workdir / "bench-webhook.sqlite3"
        return f"sqlite:///{path}", lambda: _sqlite_rows(path)
    import psycopg

    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name}"')
    parts = urllib.parse.urlsplit(pg_admin_url)
    url = urllib.parse.urlunsplit(parts._replace(path=f"/{db_name}"))
    return url, lambda: _pg_rows(url)


def _pg_rows(url):
    import psycopg

    with psycopg.connect(url) as conn:
        weeks = conn.execute("SELECT week_start, visitors, pageviews FROM metrics_weeklymetric").fetchall()
        deliveries = conn.execute(
            "SELECT count(*), count(DISTINCT key) FROM metrics_webhookdelivery"
        ).fetchone()
    return {w.isoformat(): (v, p) for w, v, p in weeks}, deliveries


def _sqlite_rows(path):
    conn = sqlite3.connect(path)
    try:
        weeks = conn.execute("SELECT week_start, visitors, pageviews FROM metrics_weeklymetric").fetchall()
        deliveries = conn.execute(
            "SELECT count(*), count(DISTINCT key) FROM metrics_webhookdelivery"
        ).fetchone()
    finally:
        conn.close()
    return {w: (v, p) for w, v, p in weeks}, deliveries


def server_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VISITORSYNC_", "POSTHOG_", "DATABASE_"))}
    env.update(
        {
            "VISITORSYNC_ENV_FILE": "",
            "DJANGO_SETTINGS_MODULE": "visitorsync.settings",
            "DEBUG": "false",
            "SECRET_KEY": "bench-" + "k" * 50,
            "DATABASE_URL": database_url,
            "POSTHOG_WEBHOOK_SECRET": SECRET,
            "VISITORSYNC_TIMEZONE": TIMEZONE,
            "VISITORSYNC_WEEK_START": "monday",
            "VISITORSYNC_LOG_LEVEL": "WARNING",
        }
    )
    return env


def wait_until_up(port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn exited; see its log above")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", PATH)
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer within 30 s")


def run_backend(kind: str, args, workdir: Path) -> dict:
    database_url, read_rows = prepare_database(kind, args.pg_admin_url, args.pg_database, workdir)
    env = server_env(database_url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0", "--noinput"], cwd=ROOT, env=env, check=True
    )
    port = free_port()
    log = open(workdir / f"gunicorn-{kind}.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "visitorsync.wsgi",
            "-w",
            str(args.workers),
            "--threads",
            str(args.threads),
            "-b",
            f"127.0.0.1:{port}",
            "--keep-alive",
            "30",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(port, server)
        common = {"clients": args.clients, "seconds": args.duration, "processes": args.client_processes}
        # The database's CPU only where it runs here (it may serve other work meanwhile).
        database_pid = postmaster_pid() if kind == "postgres" and _is_local(args.pg_admin_url) else None
        trivial = measured(lambda: load(port, mode="trivial", visitors=1, **common), server.pid, database_pid)
        webhook = measured(
            lambda: load(port, mode="webhook", visitors=args.visitors, **common), server.pid, database_pid
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    stored, (delivery_rows, distinct_keys) = read_rows()
    persons, views = collections.defaultdict(set), collections.Counter()
    for _event_id, week, visitor in webhook["events"]:
        persons[week].add(visitor)
        views[week] += 1
    truth = {week: (len(persons[week]), views[week]) for week in views}
    lost = sum(max(0, truth[w][1] - stored.get(w, (0, 0))[1]) for w in truth)
    doubled = sum(max(0, stored.get(w, (0, 0))[1] - truth.get(w, (0, 0))[1]) for w in stored | truth)
    return {
        "kind": kind,
        "trivial": trivial,
        "webhook": webhook,
        "sent_events": len(webhook["events"]),
        "counts_match": stored == truth,
        "lost": lost,
        "doubled": doubled,
        "delivery_rows": delivery_rows,
        "distinct_keys": distinct_keys,
    }


def _is_local(url: str) -> bool:
    return urllib.parse.urlsplit(url).hostname in {"127.0.0.1", "localhost", "::1"}


def describe(phase: dict) -> str:
    errors = sum(n for status, n in phase["statuses"].items() if status != 200)
    five = sum(n for status, n in phase["statuses"].items() if status >= 500 or status == 0)
    cpu = f"  CPU/request: server {phase['server_cpu_ms']:.2f} ms"
    if phase.get("database_cpu_ms") is not None:
        cpu += f", PostgreSQL {phase['database_cpu_ms']:.2f} ms"
    return (
        f"{phase['rate']:8.0f} req/s  p50 {phase['p50']:6.1f} ms  p99 {phase['p99']:6.1f} ms  "
        f"requests {phase['requests']:6d}  non-200 {errors}  5xx/failed {five}{cpu}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per phase")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--visitors", type=int, default=5000, help="size of the visitor pool")
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--pg-admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--pg-database", default="bench_webhook")
    args = parser.parse_args()

    print(
        f"visitorsync webhook load: {args.clients} keep-alive clients on 127.0.0.1 for {args.duration:.0f} s "
        f"per phase; gunicorn -w {args.workers} --threads {args.threads}; {os.cpu_count()} CPU(s) shared "
        "by server, clients and anything else running",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.backends.split(","):
            result = run_backend(kind, args, Path(tmp))
            webhook, trivial = result["webhook"], result["trivial"]
            ratio = webhook["rate"] / trivial["rate"] if trivial["rate"] else 0.0
            print(f"\n== {kind}")
            print(f"  trivial GET  {describe(trivial)}")
            print(f"  webhook POST {describe(webhook)}")
            print(f"  webhook/trivial throughput: {ratio:.0%}")
            print(
                f"  answers: {dict(webhook['answers'])}; distinct events sent {result['sent_events']}; "
                f"delivery rows {result['delivery_rows']} (distinct {result['distinct_keys']})"
            )
            print(
                f"  stored counts equal ground truth: {result['counts_match']} "
                f"(pageviews lost {result['lost']}, double-counted {result['doubled']})",
                flush=True,
            )


if __name__ == "__main__":
    main()
