"""Helpers several test modules share: what is stored, and what PostHog says it should be."""

import datetime as dt
import json
import re

from metrics.core import weeks
from metrics.models import WeeklyMetric

CRON_SECRET = "cron-secret-0123456789abcdef"
WEBHOOK_SECRET = "webhook-secret-for-tests-0123456789"

# The one JSON presentation of a sync run (metrics.presentation.run_json), as documented in
# docs/api.md; a caller that is not trusted does not see the private keys.
PRIVATE_RUN_KEYS = frozenset({"started_by", "error", "changes"})
PUBLIC_RUN_KEYS = frozenset(
    {
        "id", "status", "status_display", "trigger", "trigger_display", "dry_run", "forced",
        "first_week", "last_week", "phase", "weeks_total", "weeks_done", "weeks_checked",
        "weeks_created", "weeks_updated", "weeks_unchanged", "queries", "started_at",
        "finished_at", "duration_seconds",
    }
)  # fmt: skip
RUN_KEYS = PUBLIC_RUN_KEYS | PRIVATE_RUN_KEYS


def query_bounds(request_body: bytes | str) -> dict[str, str]:
    """The `start` and `end` literals of the weekly-counts query in a request to PostHog."""
    query = json.loads(request_body)["query"]["query"]
    start = re.search(r"timestamp >= toDateTime\('([^']+)'\)", query)
    end = re.search(r"timestamp < toDateTime\('([^']+)'\)", query)
    assert start and end, query
    return {"start": start.group(1), "end": end.group(1)}


def stored_numbers() -> dict[dt.date, tuple[int, int]]:
    """Every stored week's (visitors, pageviews), oldest first."""
    return {m.week_start: (m.visitors, m.pageviews) for m in WeeklyMetric.objects.order_by("week_start")}


def truth(stub, settings) -> dict[dt.date, tuple[int, int]]:
    """The stub's ground truth per week, cut with the configured week start and time zone."""
    return stub.truth(tz_name=settings.VISITORSYNC_TIMEZONE, mode=weeks.hogql_week_mode())


def expected(stub, settings, first: dt.date | None = None) -> dict[dt.date, tuple[int, int]]:
    """What a sync from `first` (default: the backfill's first week) to now must store: every
    week, zero where PostHog has no events."""
    current = weeks.current_week_start()
    if first is None:
        first = current - weeks.ONE_WEEK * (settings.VISITORSYNC_BACKFILL_WEEKS - 1)
    known = truth(stub, settings)
    return {w: known.get(w, (0, 0)) for w in weeks.week_range(first, current)}


QUERY_URL = "https://us.posthog.com/api/projects/12345/query/"


def monday(year: int, month: int, day: int) -> dt.date:
    date = dt.date(year, month, day)
    assert date.weekday() == 0, f"{date} is not a Monday"
    return date
