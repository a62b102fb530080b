"""Benchmark: a full sync of 52 and 260 weeks against the loopback PostHog stub.

Each PostHog query costs `--latency` seconds (150 ms by default, a realistic round trip to
PostHog Cloud). visitorsync's sync (one grouped query per chunk of weeks) runs next to a
baseline implemented here: the design visitorsync replaces, one query per stored week
followed by a 500 ms pause (to stay under the rate limit). Both write to a fresh SQLite
database and are timed in the same run. Prints medians, queries spent and the ratio.

    .venv/bin/python bench/sync_bench.py                 # about 4 minutes, mostly the baseline
    .venv/bin/python bench/sync_bench.py --runs 7 --baseline-runs 1
"""

import argparse
import datetime as dt
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(db_path: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.support.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ["VISITORSYNC_LOG_LEVEL"] = "WARNING"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def reset() -> None:
    from metrics.models import SyncRun, WeeklyMetric

    WeeklyMetric.objects.all().delete()
    SyncRun.objects.all().delete()


def run_visitorsync(weeks_count: int) -> tuple[float, int]:
    from django.conf import settings

    from metrics import tracker
    from metrics.models import SyncRun

    reset()
    settings.VISITORSYNC_BACKFILL_WEEKS = weeks_count
    started = time.perf_counter()
    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND))
    elapsed = time.perf_counter() - started
    assert run.weeks_checked == weeks_count, run.weeks_checked
    return elapsed, run.queries


def run_baseline(weeks_count: int, pause: float) -> tuple[float, int]:
    """One query per week, each followed by a pause: the design being replaced."""
    from metrics.core import weeks
    from metrics.models import WeeklyMetric
    from metrics.posthog import PostHogClient

    reset()
    last = weeks.current_week_start()
    first = last - dt.timedelta(weeks=weeks_count - 1)
    client = PostHogClient()
    started = time.perf_counter()
    for week in weeks.week_range(first, last):
        count = client.weekly_counts(first_week=week, last_week=week).for_week(week)
        WeeklyMetric.objects.update_or_create(
            week_start=week,
            defaults={"visitors": count.visitors, "pageviews": count.pageviews},
        )
        time.sleep(pause)
    return time.perf_counter() - started, client.queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, nargs="+", default=[52, 260])
    parser.add_argument("--runs", type=int, default=5, help="visitorsync runs per size")
    parser.add_argument("--baseline-runs", type=int, default=1, help="baseline runs per size")
    parser.add_argument("--latency", type=float, default=0.150, help="seconds added per query")
    parser.add_argument("--pause", type=float, default=0.5, help="baseline pause per week")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        setup_django(str(Path(tmp) / "bench.sqlite3"))
        from django.conf import settings

        from tests.support.posthog_stub import PostHogStub, generate_events

        events = generate_events(weeks=max(args.weeks) + 1, seed=3, per_week=60, persons=200)
        with PostHogStub(events=events, latency=args.latency) as stub:
            settings.POSTHOG_HOST = stub.url
            settings.POSTHOG_PROJECT_ID = stub.project_id
            settings.POSTHOG_API_KEY = stub.api_key
            chunk = settings.VISITORSYNC_CHUNK_WEEKS
            print(
                f"Full sync against the loopback PostHog stub, {args.latency * 1000:.0f} ms per query, "
                f"chunk {chunk} weeks, SQLite; {os.cpu_count()} CPUs (shared machine)."
            )
            print(f"{'weeks':>5}  {'implementation':<34} {'runs':>4} {'median s':>9} {'queries':>7}")
            for weeks_count in args.weeks:
                ours = [run_visitorsync(weeks_count) for _ in range(args.runs)]
                base = [run_baseline(weeks_count, args.pause) for _ in range(args.baseline_runs)]
                ours_median = statistics.median(t for t, _ in ours)
                base_median = statistics.median(t for t, _ in base)
                print(
                    f"{weeks_count:>5}  {'visitorsync (grouped, chunked)':<34} {args.runs:>4} "
                    f"{ours_median:>9.3f} {ours[0][1]:>7}"
                )
                print(
                    f"{weeks_count:>5}  {'baseline (1 query/week + pause)':<34} {args.baseline_runs:>4} "
                    f"{base_median:>9.3f} {base[0][1]:>7}"
                )
                print(
                    f"       ratio baseline/visitorsync: {base_median / ours_median:.0f}x; "
                    f"queries allowed ceil({weeks_count}/{chunk}) = {math.ceil(weeks_count / chunk)}, "
                    f"spent {ours[0][1]}"
                )


if __name__ == "__main__":
    main()
