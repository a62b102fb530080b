"""Asking PostHog range by range: how a span of weeks is cut into queries, and how a range
PostHog finds too heavy is cut again.

The tracker decides the ranges; the PostHog client answers one range per call.
"""

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone

from metrics.core import weeks
from metrics.models import SyncRun, WeeklyMetric
from metrics.posthog import PostHogClient, PostHogQueryTooHeavy, QueriedMetric, WeekCount
from metrics.tracker import metric_values
from metrics.tracker.apply import Snapshot
from metrics.tracker.lock import Progress

logger = logging.getLogger(__name__)


def chunk_ranges(first_week: dt.date, last_week: dt.date, *, size: int) -> list[tuple[dt.date, dt.date]]:
    """Split [first_week, last_week] into ranges of at most `size` weeks: one query each."""
    ranges = []
    start = first_week
    while start <= last_week:
        end = min(start + weeks.ONE_WEEK * (size - 1), last_week)
        ranges.append((start, end))
        start = end + weeks.ONE_WEEK
    return ranges


def ask_posthog(
    client: PostHogClient,
    *,
    week_starts: list[dt.date],
    report: "Progress",
    metrics: tuple[QueriedMetric, ...] = (),
) -> tuple[Snapshot, metric_values.ValueSnapshot, dict[dt.date, WeekCount]]:
    """PostHog's numbers for the weeks (the built-ins and `metrics`, all in the same queries),
    and the stored rows (WeeklyMetric's, then the metrics') as they were before each query.

    Each range's rows are read right before that range's query: what webhooks add after
    that is kept on top of PostHog's answer (see apply.write). Snapshotting per range keeps that
    window to one query, so an event PostHog already counted is rarely added twice. Ranges
    with none of the requested weeks are not queried.

    A range PostHog finds too heavy is split in half and asked again, down to one week, and
    the ranges still waiting are cut to the same size; a run that had to split records the
    size that worked (`chunk_weeks`) for the next syncs to start from (CHUNK_MEMORY).
    """
    stored: Snapshot = {}
    stored_values: metric_values.ValueSnapshot = {}
    counts: dict[dt.date, WeekCount] = {}
    done = 0
    report(0, "Asking PostHog")
    size = starting_chunk_weeks()
    pending = chunk_ranges(week_starts[0], week_starts[-1], size=size)
    while pending:
        start, end = pending.pop(0)
        chunk = [week for week in week_starts if start <= week <= end]
        if not chunk:
            continue
        stored |= _snapshot(chunk)
        stored_values |= metric_values.snapshot(chunk, metrics)
        try:
            counts |= client.weekly_counts(first_week=start, last_week=end, metrics=metrics).counts
        except PostHogQueryTooHeavy as err:
            length = _weeks_in(start, end)
            if length == 1:
                raise PostHogQueryTooHeavy(
                    f"{err} Even one week ({start}) is too heavy for PostHog to count, so the sync "
                    "stopped and nothing was stored. Count fewer events (VISITORSYNC_EVENT) or "
                    "hosts, or ask PostHog's support about the project's query limits."
                ) from err
            size = min(size, (length + 1) // 2)
            report.run.chunk_weeks = size
            logger.info(
                "sync run=%s: PostHog found %s..%s too heavy; asking for %d weeks at a time",
                report.run.pk,
                start,
                end,
                size,
            )
            # The ranges still waiting would be refused too: cut them all to the new size.
            pending = [
                piece
                for first, last in [(start, end), *pending]
                for piece in chunk_ranges(first, last, size=size)
            ]
            continue
        done += len(chunk)
        report(done, "Asking PostHog")
    return stored, stored_values, counts


# How long a smaller chunk size that a heavy range forced is kept before the full size
# (VISITORSYNC_CHUNK_WEEKS) is tried again.
CHUNK_MEMORY = dt.timedelta(days=7)


def starting_chunk_weeks() -> int:
    """Weeks per query for the next sync: the size that worked when PostHog last made a
    successful sync split a range, within CHUNK_MEMORY; else VISITORSYNC_CHUNK_WEEKS.

    Only a run that split records `chunk_weeks`, so the memory ends CHUNK_MEMORY after the
    last split, and the full size is tried again then."""
    configured = settings.VISITORSYNC_CHUNK_WEEKS
    last = (
        SyncRun.objects.filter(
            status=SyncRun.Status.SUCCEEDED,
            chunk_weeks__isnull=False,
            finished_at__gte=timezone.now() - CHUNK_MEMORY,
        )
        .order_by("-finished_at")
        .values_list("chunk_weeks", flat=True)
        .first()
    )
    return min(configured, last) if last else configured


def _weeks_in(first_week: dt.date, last_week: dt.date) -> int:
    return (last_week - first_week).days // 7 + 1


def _snapshot(week_starts: list[dt.date]) -> Snapshot:
    return {
        row["week_start"]: row
        for row in WeeklyMetric.objects.filter(
            week_start__gte=week_starts[0], week_start__lte=week_starts[-1]
        ).values("id", "week_start", "visitors", "pageviews", "posthog_visitors", "posthog_pageviews")
    }
