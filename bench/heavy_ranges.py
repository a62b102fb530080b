"""Benchmark: a 260-week sync when PostHog refuses ranges longer than 13 weeks as too heavy.

Against the loopback PostHog stub (`--latency` seconds per query, 150 ms by default), in the
same run: the sync against a stub without a limit (the baseline: 5 queries of 52 weeks), the
first sync against a stub that answers 512 to any range longer than 13 weeks (it splits
52 -> 26 -> 13 weeks), and the next sync, which starts from the size that worked. Checks
that every stored week equals the stub's ground truth, and prints medians and queries.

    .venv/bin/python bench/heavy_ranges.py --runs 5
"""

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sync_bench import reset, setup_django  # noqa: E402


def one_sync(stub, *, since: dt.date) -> tuple[float, int, int | None]:
    from metrics import tracker
    from metrics.models import SyncRun

    started = time.perf_counter()
    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=SyncRun.Trigger.COMMAND, since=since))
    return time.perf_counter() - started, run.queries, run.chunk_weeks


def check_exact(events, since: dt.date) -> None:
    from django.conf import settings

    from metrics.core import weeks
    from metrics.models import WeeklyMetric
    from tests.support.posthog_stub import weekly_truth

    known = weekly_truth(events, tz_name=settings.VISITORSYNC_TIMEZONE, mode=weeks.hogql_week_mode())
    stored = {m.week_start: (m.visitors, m.pageviews) for m in WeeklyMetric.objects.all()}
    expected = {w: known.get(w, (0, 0)) for w in weeks.week_range(since, weeks.current_week_start())}
    if stored != expected:
        raise SystemExit("stored weeks differ from the stub's ground truth")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(str(Path(tmp) / "bench.sqlite3"))
        from django.conf import settings

        from metrics.core import weeks
        from tests.support.posthog_stub import PostHogStub, generate_events

        events = generate_events(weeks=261, seed=3, per_week=60, persons=200)
        since = weeks.current_week_start() - dt.timedelta(weeks=259)
        results: dict[str, list[tuple[float, int, int | None]]] = {"unsplit": [], "first": [], "next": []}
        for _ in range(args.runs):
            for limit, labels in ((None, ["unsplit"]), (13, ["first", "next"])):
                with PostHogStub(events=events, latency=args.latency, max_weeks_per_query=limit) as stub:
                    settings.POSTHOG_HOST, settings.POSTHOG_PROJECT_ID = stub.url, stub.project_id
                    settings.POSTHOG_API_KEY = stub.api_key
                    reset()
                    for label in labels:
                        results[label].append(one_sync(stub, since=since))
                        check_exact(events, since)
        print(
            f"260-week sync against the loopback PostHog stub, {args.latency * 1000:.0f} ms per query, "
            f"VISITORSYNC_CHUNK_WEEKS={settings.VISITORSYNC_CHUNK_WEEKS}, SQLite; {args.runs} runs each; "
            "every stored week equal to the ground truth"
        )
        print(f"{'sync':<44} {'median s':>9} {'queries':>8} {'chunk weeks':>12}")
        names = {
            "unsplit": "no limit (baseline)",
            "first": "512 above 13 weeks: first sync (splits)",
            "next": "512 above 13 weeks: next sync",
        }
        for label, runs in results.items():
            median = statistics.median(seconds for seconds, _, _ in runs)
            queries = {q for _, q, _ in runs}
            chunks = {c for _, _, c in runs}
            print(
                f"{names[label]:<44} {median:>9.2f} {'/'.join(map(str, sorted(queries))):>8} "
                f"{'/'.join(map(str, sorted(chunks))):>12}"
            )
        base = statistics.median(s for s, _, _ in results["unsplit"])
        first = statistics.median(s for s, _, _ in results["first"])
        following = statistics.median(s for s, _, _ in results["next"])
        print(f"ratio to the baseline: first sync {first / base:.1f}x, next sync {following / base:.1f}x")


if __name__ == "__main__":
    main()
