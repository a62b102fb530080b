"""Stored weeks and the CSV reader for the stats API's and the admin's export tests."""

import csv
import datetime as dt
import io

from django.utils import timezone

from metrics.core import weeks
from metrics.models import WeeklyMetric

TOKEN = "stats-token-0123456789abcdef0123"
URL = "/api/stats/weekly"


def seed_weeks(count: int, *, synced: bool = True) -> list[WeeklyMetric]:
    """`count` weeks through the current one, with distinct numbers, each synced after it ended
    (the current week: synced now, so not confirmed)."""
    current = weeks.current_week_start()
    now = timezone.now()
    rows = []
    for age in range(count):
        week = current - weeks.ONE_WEEK * age
        _, end = weeks.week_bounds(week)
        synced_at = (end + dt.timedelta(hours=3) if week != current else now) if synced else None
        rows.append(
            WeeklyMetric(
                week_start=week,
                visitors=1000 + 7 * age + (age % 5) * 13,
                pageviews=4000 + 31 * age,
                posthog_visitors=1000 + 7 * age + (age % 5) * 13,
                posthog_pageviews=4000 + 31 * age,
                synced_at=synced_at,
            )
        )
    return WeeklyMetric.objects.bulk_create(rows)


def get(client, query: str = "", token: str | None = TOKEN, **headers):
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.get(f"{URL}{'?' if query else ''}{query}", headers=headers)


def read_csv(response) -> list[dict[str, str]]:
    assert response["Content-Type"].startswith("text/csv; charset=utf-8")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"), newline="")))
