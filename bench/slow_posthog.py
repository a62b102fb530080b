"""Benchmark: how long a sync waits on a PostHog whose answer trickles in, before it fails.

The loopback PostHog stub sends every answer one byte per `--seconds-per-byte` (0.5 s by
default, as in the report that found the problem), from its status line on. A full sync runs
against it with the PostHog timeouts' defaults divided by `--scale` (10 by default: connect
0.5 s, read 3 s, query 6 s, retry deadline 12 s), on a fresh SQLite database. Prints the time
from start to the recorded failure, the attempts spent, the bound the settings promise
(retry deadline + connect timeout + query timeout), and how long reading each whole answer
would have taken without the query timeout.

    .venv/bin/python bench/slow_posthog.py
    .venv/bin/python bench/slow_posthog.py --scale 1     # the real defaults: about 2 minutes
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULTS = {  # visitorsync/settings.py
    "POSTHOG_CONNECT_TIMEOUT": 5.0,
    "POSTHOG_READ_TIMEOUT": 30.0,
    "POSTHOG_QUERY_TIMEOUT": 60.0,
    "POSTHOG_RETRY_DEADLINE": 120.0,
    "POSTHOG_RETRY_AFTER_CAP": 60.0,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds-per-byte", type=float, default=0.5)
    parser.add_argument("--scale", type=float, default=10.0, help="divide the timeout defaults by this")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DJANGO_SETTINGS_MODULE"] = "tests.support.settings"
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        os.environ["VISITORSYNC_LOG_LEVEL"] = "WARNING"
        import django
        from django.conf import settings
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)

        from metrics import tracker
        from metrics.models import SyncRun
        from metrics.posthog import PostHogConfig
        from tests.support.posthog_stub import PostHogStub, generate_events

        for name, value in DEFAULTS.items():
            setattr(settings, name, value / args.scale)
        with PostHogStub(events=generate_events(weeks=12, seed=1)) as stub:
            settings.POSTHOG_HOST, settings.POSTHOG_PROJECT_ID = stub.url, stub.project_id
            settings.POSTHOG_API_KEY = stub.api_key
            stub.trickle(seconds_per_byte=args.seconds_per_byte)
            config = PostHogConfig.from_settings()
            started = time.monotonic()
            try:
                tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND))
            except tracker.SyncFailed as err:
                elapsed = time.monotonic() - started
                message = str(err)
            else:
                sys.exit("the sync succeeded against a trickling PostHog: nothing to measure")
            run = SyncRun.objects.get()
            trickles = stub.wait_for_trickles(run.queries, timeout=30)

    print(
        f"timeouts / {args.scale:g}: connect {config.connect_timeout:g} s, read {config.read_timeout:g} s, "
        f"query {config.query_timeout:g} s, retry deadline {config.retry_deadline:g} s, "
        f"{config.max_attempts} attempts at most"
    )
    print(f"answer trickled at {args.seconds_per_byte:g} s per byte")
    print(f"failed after {elapsed:.2f} s ({run.queries} attempts); bound {config.longest_query:g} s")
    for number, trickle in enumerate(trickles, 1):
        print(
            f"  attempt {number}: hung up after {trickle.sent} of {trickle.total} bytes "
            f"(the whole answer would take {trickle.total * args.seconds_per_byte:.0f} s)"
        )
    print(f"recorded: {run.status}: {message[:100]}...")


if __name__ == "__main__":
    main()
