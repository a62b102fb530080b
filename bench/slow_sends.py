"""How long a door holds its caller when the mail server and the alert webhook drip (prints figures).

Starts `scripts/serve` (gunicorn, production settings) on SQLite, a PostHog stand-in, and a mail
server and an alert webhook (tests/support) that send their answers one byte at a time for
`--drip` seconds. Each round times, from the request's start:

- `door`: until the cron endpoint's answer to `POST /api/cron/sync-visitors?report=1` (a sync,
  then the weekly report to two recipients and the alert check, both after the answer);
- `sends`: until every report delivery of that round is recorded (sent or failed), i.e. how
  long a door that waited for its sends would have held the scheduler.

The same round against fast receivers is the baseline, measured in the same run.

    .venv/bin/python bench/slow_sends.py --rounds 3
"""

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from demo.posthog_standin import PostHogStub  # noqa: E402
from demo.sample import generate  # noqa: E402
from tests.support.hookserver import HookServer  # noqa: E402
from tests.support.mailserver import SMTPServer  # noqa: E402
from tests.support.stack import PRODUCTION_ENV, free_port, serve_env, start_serve, stop_group  # noqa: E402

SEND_TIMEOUT = 5.0


def deliveries_done(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute(
            "SELECT count(*) FROM metrics_reportdelivery WHERE status != 'sending'"
        ).fetchone()[0]


def one_round(base: str, database: Path, *, expected: int) -> tuple[float, float]:
    started = time.monotonic()
    answer = requests.post(
        f"{base}/api/cron/sync-visitors?report=1",
        headers={"Authorization": f"Bearer {PRODUCTION_ENV['CRON_SECRET']}", "X-Forwarded-Proto": "https"},
        timeout=120,
    )
    door = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    while deliveries_done(database) < expected:
        if time.monotonic() - started > 120:
            raise SystemExit("the report deliveries were not recorded within 120 s")
        time.sleep(0.05)
    return door, time.monotonic() - started


def run(*, drip: float, rounds: int) -> tuple[list[float], list[float]]:
    doors, sends = [], []
    with (
        tempfile.TemporaryDirectory() as tmp,
        PostHogStub(events=generate(weeks=20)) as stub,
        SMTPServer() as mail,
        HookServer() as hook,
    ):
        if drip:
            mail.drip(seconds_per_byte=0.2, for_seconds=drip)
            hook.drip(seconds_per_byte=0.2, for_seconds=drip)
        database = Path(tmp) / "bench.sqlite3"
        port = free_port()
        env = serve_env(
            database_url=f"sqlite:///{database}",
            port=port,
            static_root=Path(tmp) / "static",
            POSTHOG_HOST=stub.url,
            POSTHOG_PROJECT_ID=stub.project_id,
            POSTHOG_API_KEY=stub.api_key,
            EMAIL_URL=f"smtp://127.0.0.1:{mail.port}",
            EMAIL_TIMEOUT=str(SEND_TIMEOUT),
            VISITORSYNC_ALERT_WEBHOOK_TIMEOUT=str(SEND_TIMEOUT),
            VISITORSYNC_REPORT_RECIPIENTS="ana@example.test,ben@example.test",
            VISITORSYNC_ALERT_WEBHOOK_URL=hook.url,
            VISITORSYNC_BACKFILL_WEEKS="20",
        )
        server = start_serve(env, log_path=Path(tmp) / "serve.log", port=port)
        try:
            base = f"http://127.0.0.1:{port}"
            for number in range(rounds):
                # Each round is the report's first send of a new week's rows: clear them.
                with sqlite3.connect(database) as connection:
                    connection.execute("DELETE FROM metrics_reportdelivery")
                door, send = one_round(base, database, expected=2)
                doors.append(door)
                sends.append(send)
                print(f"  round {number + 1}: door {door:.2f} s, sends recorded {send:.2f} s", flush=True)
        finally:
            stop_group(server)
    return doors, sends


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--drip", type=float, default=30.0, help="seconds each receiver drips")
    args = parser.parse_args()
    print("fast receivers (baseline):", flush=True)
    fast_doors, fast_sends = run(drip=0.0, rounds=args.rounds)
    print(f"receivers that drip for {args.drip:g} s (EMAIL_TIMEOUT = webhook timeout = {SEND_TIMEOUT:g} s):")
    slow_doors, slow_sends = run(drip=args.drip, rounds=args.rounds)
    print()
    print("| Receivers | Door answers (median) | Sends recorded (median) |")
    print("|---|---:|---:|")
    print(f"| fast | {statistics.median(fast_doors):.2f} s | {statistics.median(fast_sends):.2f} s |")
    print(f"| dripping | {statistics.median(slow_doors):.2f} s | {statistics.median(slow_sends):.2f} s |")
    ratio = statistics.median(slow_doors) / statistics.median(fast_doors)
    print(f"door with dripping receivers / door with fast ones: {ratio:.2f}")


if __name__ == "__main__":
    main()
