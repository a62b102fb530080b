"""Benchmark: a full sync of 260 weeks with the 2 built-in metrics, and with 10 metrics
(the built-ins and 8 user-defined ones: counts, uniques and sums with property conditions),
against the loopback PostHog stand-in with 150 ms added to every query.

Every metric of a range is one column of the same grouped query, so both spend the same
queries; the 10-metric sync also evaluates the extra columns in the stand-in and writes
260 x 8 MetricValue rows. Fresh SQLite database; the runs alternate between the two cases.
Prints each case's median, the queries spent and the ratio (target: at most 1.5x).

    .venv/bin/python bench/metric_sync.py
    .venv/bin/python bench/metric_sync.py --runs 7 --user-metrics 10
"""

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.metric_files import EVERY_OPERATOR  # noqa: E402 (after the path above)

# The counted ones (no ratio): ten user-defined metrics, every kind and operator.
USER_METRICS = [m for m in EVERY_OPERATOR["metrics"] if m["kind"] != "ratio"]


def setup_django(db_path: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.support.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ["VISITORSYNC_LOG_LEVEL"] = "WARNING"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def fixture_events(weeks_count: int, *, per_week: int, seed: int = 5):
    from tests.support.posthog_stub import Event

    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(weeks=weeks_count)
    names = ["$pageview"] * 6 + ["signed_up", "purchase", "purchase", "project_created"]
    events = []
    for index in range(weeks_count * per_week):
        moment = start + dt.timedelta(seconds=rng.randint(0, int((now - start).total_seconds()) - 60))
        name = rng.choice(names)
        properties = {}
        if name != "$pageview" and rng.random() < 0.8:
            properties["plan"] = rng.choice(["pro", "team", "free"])
        if name == "purchase":
            properties["amount"] = rng.choice([19.0, 49.5, "99", "n/a", True, ""])
        events.append(
            Event(f"b-{index}", name, f"person-{rng.randint(1, 300)}", moment, None, None, properties)
        )
    return events


def run_sync(user_metrics: int) -> tuple[float, int]:
    from metrics import catalog, tracker
    from metrics.models import Metric, MetricValue, SyncRun, WeeklyMetric

    WeeklyMetric.objects.all().delete()
    MetricValue.objects.all().delete()
    SyncRun.objects.all().delete()
    Metric.objects.exclude(key__in=("visitors", "pageviews")).delete()
    if user_metrics:
        catalog.import_document({"metrics": USER_METRICS[:user_metrics]}, dry_run=False)
    started = time.perf_counter()
    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND))
    elapsed = time.perf_counter() - started
    assert MetricValue.objects.count() == run.weeks_checked * user_metrics
    return elapsed, run.queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=260)
    parser.add_argument("--runs", type=int, default=5, help="runs per case")
    parser.add_argument("--latency", type=float, default=0.150, help="seconds added per query")
    parser.add_argument("--per-week", type=int, default=60, help="fixture events per week")
    parser.add_argument(
        "--user-metrics", type=int, default=8, help="user-defined metrics besides the 2 built-ins"
    )
    args = parser.parse_args()
    if not 0 < args.user_metrics <= len(USER_METRICS):
        parser.error(f"--user-metrics takes 1 to {len(USER_METRICS)}")

    with tempfile.TemporaryDirectory() as tmp:
        setup_django(str(Path(tmp) / "bench.sqlite3"))
        from django.conf import settings

        from tests.support.posthog_stub import PostHogStub

        settings.VISITORSYNC_BACKFILL_WEEKS = args.weeks
        events = fixture_events(args.weeks + 1, per_week=args.per_week)
        with PostHogStub(events=events, latency=args.latency) as stub:
            settings.POSTHOG_HOST, settings.POSTHOG_PROJECT_ID = stub.url, stub.project_id
            settings.POSTHOG_API_KEY = stub.api_key
            cases = {2: [], 2 + args.user_metrics: []}
            for _ in range(args.runs):
                cases[2].append(run_sync(0))
                cases[2 + args.user_metrics].append(run_sync(args.user_metrics))
    print(
        f"Full sync of {args.weeks} weeks against the loopback PostHog stand-in, "
        f"{args.latency * 1000:.0f} ms per query, chunk {settings.VISITORSYNC_CHUNK_WEEKS} weeks, "
        f"{len(events)} events, SQLite; {os.cpu_count()} CPUs."
    )
    print(f"{'metrics':>7} {'runs':>4} {'median s':>9} {'min s':>7} {'max s':>7} {'queries':>7}")
    medians = {}
    for count, results in cases.items():
        times = [t for t, _ in results]
        medians[count] = statistics.median(times)
        print(
            f"{count:>7} {len(times):>4} {medians[count]:>9.3f} {min(times):>7.3f} "
            f"{max(times):>7.3f} {results[0][1]:>7}"
        )
    few, many = sorted(medians)
    print(f"ratio {many} metrics / {few} metrics: {medians[many] / medians[few]:.2f}x (target at most 1.5x)")


if __name__ == "__main__":
    main()
