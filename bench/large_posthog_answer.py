"""Benchmark: the peak memory of a dry-run sync whose PostHog answer is huge, with and without
the answer size limit (POSTHOG_MAX_ANSWER_BYTES).

The loopback PostHog stand-in (demo/posthog_standin.py, in this process) pads its true answer
to `--size-mib` (400 by default, as in the report that found the problem), streamed without
holding it in memory. `manage.py sync_visitors --dry-run` runs as its own process on a fresh
SQLite database, once with the limit out of the way (1 TiB: the baseline, as the client read
answers before the limit existed) and once with the default (16 MiB), alternately, `--runs`
times each, beside a sync given the true answer (a few kilobytes) for reference. Prints the
median peak resident memory of the sync process (ru_maxrss, from wait4) and the outcome.

    .venv/bin/python bench/large_posthog_answer.py
    .venv/bin/python bench/large_posthog_answer.py --size-mib 100 --runs 1
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.posthog_stub import PostHogStub, generate_events  # noqa: E402
from tests.support.stack import manage, production_env  # noqa: E402

MiB = 1024 * 1024
# name: (POSTHOG_MAX_ANSWER_BYTES, whether the answer is padded)
CASES = {
    "baseline (limit 1 TiB)": (str(1 << 40), True),
    "default limit (16 MiB)": (str(16 * MiB), True),
    "reference: the true answer (a few KB)": (str(16 * MiB), False),
}


def sync_peak(env: dict[str, str], log_path: Path) -> tuple[float, int]:
    """(peak resident MiB, exit code) of one `sync_visitors --dry-run` process."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "sync_visitors", "--dry-run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss / 1024, process.returncode  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=400, help="size of the padded answer")
    parser.add_argument("--runs", type=int, default=3, help="syncs per limit")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, PostHogStub(events=generate_events(weeks=6, seed=3)) as stub:
        base = production_env(
            PYTHON=sys.executable,
            DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite3",
            POSTHOG_HOST=stub.url,
            POSTHOG_PROJECT_ID=stub.project_id,
            POSTHOG_API_KEY=stub.api_key,
            POSTHOG_MAX_ATTEMPTS="1",
            VISITORSYNC_TIMEZONE="UTC",
            VISITORSYNC_BACKFILL_WEEKS="4",  # one query, one answer
            VISITORSYNC_LOG_LEVEL="WARNING",
        )
        migrated = manage("migrate", "--noinput", env=base)
        assert migrated.returncode == 0, migrated.stderr
        peaks: dict[str, list[float]] = {name: [] for name in CASES}
        outcomes: dict[str, set[int]] = {name: set() for name in CASES}
        for index in range(args.runs):
            for case, (name, (limit, padded)) in enumerate(CASES.items()):
                if padded:
                    stub.answer_next_large(args.size_mib * MiB, length=False)
                log = Path(tmp) / f"sync-{index}-{case}.log"
                peak, code = sync_peak({**base, "POSTHOG_MAX_ANSWER_BYTES": limit}, log)
                peaks[name].append(peak)
                outcomes[name].add(code)
        print(
            f"dry-run sync, one PostHog answer of {args.size_mib} MiB (no Content-Length), "
            f"{args.runs} runs each:"
        )
        for name in CASES:
            result = {0: "read and compared", 1: "refused, nothing stored"}
            said = ", ".join(result.get(code, f"exit {code}") for code in sorted(outcomes[name]))
            print(
                f"  {name}: peak resident memory median {statistics.median(peaks[name]):.0f} MiB "
                f"(max {max(peaks[name]):.0f}); {said}"
            )


if __name__ == "__main__":
    main()
