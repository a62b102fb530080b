"""Apply PostHog's answer: compare it with the stored weeks, refuse a wipe-out, write.

Called by `sync.py` inside the sync's one write transaction, after every query succeeded.
"""

import datetime as dt
from collections.abc import Sequence

from django.conf import settings
from django.db.models import F, Value
from django.utils import timezone

from metrics.core.errors import WipeoutRefused
from metrics.models import SyncRun, WeeklyMetric
from metrics.posthog import QueriedMetric, WeekCount
from metrics.tracker import metric_values
from metrics.tracker.changes import WeekChange

# The stored numbers of one week, as read before its query (WeeklyMetric.values()).
Snapshot = dict[dt.date, dict]


def compare(
    *,
    week_starts: list[dt.date],
    stored: Snapshot,
    answer: dict[dt.date, WeekCount],
    metrics: Sequence[QueriedMetric] = (),
    stored_values: metric_values.ValueSnapshot | None = None,
) -> list[WeekChange]:
    """The weeks whose numbers PostHog's answer changes; a week absent from the answer is zero.
    A week whose only change is a user-defined metric's number is changed too."""
    changes = []
    for week in week_starts:
        count = answer.get(week, WeekCount(week, 0, 0))
        moved = metric_values.moved(week, metrics=metrics, stored=stored_values or {}, count=count)
        row = stored.get(week)
        if row is None:
            changes.append(WeekChange(week, None, count.visitors, None, count.pageviews, moved))
        elif moved or (
            row["visitors"],
            row["pageviews"],
            row["posthog_visitors"],
            row["posthog_pageviews"],
        ) != (count.visitors, count.pageviews, count.visitors, count.pageviews):
            changes.append(
                WeekChange(week, row["visitors"], count.visitors, row["pageviews"], count.pageviews, moved)
            )
    return changes


def refuse_wipeout(changes: list[WeekChange], *, run: SyncRun) -> None:
    """Raise WipeoutRefused if the changes would set weeks that hold visitors to zero."""
    zeroed = [c for c in changes if c.visitors_before and c.visitors_after == 0]
    if not zeroed:
        return
    listed = ", ".join(f"{c.week_start} ({c.visitors_before} visitors)" for c in zeroed[:5])
    more = f" and {len(zeroed) - 5} more" if len(zeroed) > 5 else ""
    raise WipeoutRefused(
        f"Refusing to set {len(zeroed)} week(s) that hold visitors to zero: {listed}{more}. "
        "PostHog found no events for them, which usually means POSTHOG_PROJECT_ID or "
        f"VISITORSYNC_EVENT ({settings.VISITORSYNC_EVENT!r}) is wrong. If the data "
        "really is gone, sync again with --force (or force=1). Nothing was changed.",
        run=run,
    )


def write(*, week_starts: list[dt.date], stored: Snapshot, changes: list[WeekChange]) -> None:
    """Write the changes; every week of the range is marked confirmed by PostHog.

    Visitors and pageviews that webhooks added since the snapshot are kept: each row is set
    to PostHog's number plus whatever it gained since, in one UPDATE, so no increment is lost.
    """
    now = timezone.now()
    created = [c for c in changes if c.created]
    WeeklyMetric.objects.bulk_create(
        [
            WeeklyMetric(
                week_start=c.week_start,
                visitors=c.visitors_after,
                pageviews=c.pageviews_after,
                posthog_visitors=c.visitors_after,
                posthog_pageviews=c.pageviews_after,
                synced_at=now,
            )
            for c in created
        ],
        ignore_conflicts=True,
    )
    # A webhook may have created one of those weeks since the snapshot. Its row won (the
    # conflict was ignored) and is the one never synced: update it from zero.
    raced = dict(
        WeeklyMetric.objects.filter(
            week_start__in=[c.week_start for c in created], posthog_visitors__isnull=True
        ).values_list("week_start", "id")
    )
    # Rows that existed at the snapshot, plus raced ones; rows inserted above are done.
    row_ids = {week: row["id"] for week, row in stored.items()} | raced
    WeeklyMetric.objects.bulk_update(
        [
            WeeklyMetric(
                pk=row_ids[change.week_start],
                visitors=Value(change.visitors_after) + F("visitors") - Value(change.visitors_before or 0),
                pageviews=Value(change.pageviews_after)
                + F("pageviews")
                - Value(change.pageviews_before or 0),
                posthog_visitors=change.visitors_after,
                posthog_pageviews=change.pageviews_after,
                synced_at=now,
                updated_at=now,
            )
            for change in changes
            if change.week_start in row_ids
        ],
        ["visitors", "pageviews", "posthog_visitors", "posthog_pageviews", "synced_at", "updated_at"],
    )
    # PostHog confirmed the unchanged weeks too; one statement for all of them.
    changed_weeks = {c.week_start for c in changes}
    WeeklyMetric.objects.filter(week_start__in=[w for w in week_starts if w not in changed_weeks]).update(
        synced_at=now
    )


def record_result(run: SyncRun, *, week_starts: list[dt.date], changes: list[WeekChange]) -> None:
    """Put the outcome on the run (saved when the run is finished).

    A week whose stored numbers PostHog only confirmed (written for its `posthog_*` columns)
    counts as unchanged and is not listed among the changes.
    """
    changed = [c for c in changes if c.changed]
    run.weeks_checked = len(week_starts)
    run.weeks_created = sum(1 for c in changed if c.created)
    run.weeks_updated = len(changed) - run.weeks_created
    run.weeks_unchanged = len(week_starts) - len(changed)
    run.changes = [c.as_json() for c in changed]
