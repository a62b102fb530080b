"""The admin's pages of sync runs, weeks and webhook set-up with user-defined metrics: a run's
changes and the dry-run diff per metric, "via webhook" per metric, pending restatement, the
events the destination must send, a week's page with every metric, in a fixed number of queries."""

import datetime as dt
import re

import pytest

from metrics import catalog
from metrics.core import weeks
from metrics.core.definitions import parse_definition
from metrics.models import SyncRun

SYNC_URL = "/admin/metrics/weeklymetric/sync/"


def define(**raw) -> None:
    catalog.save(parse_definition(raw))


@pytest.fixture
def kpis(db):
    define(key="signups", name="Signups", kind="count", events=["signed_up"])
    define(key="revenue", name="Revenue", kind="sum", events=["purchase"], property="amount", unit="EUR")
    define(key="signup_rate", name="Signup rate", kind="ratio", numerator="signups", denominator="visitors")


def change(week: dt.date, *, visitors=(10, 12), metrics: dict | None = None) -> dict:
    item = {"week": week.isoformat(), "created": False, "visitors": list(visitors), "pageviews": [20, 25]}
    if metrics:
        item["metrics"] = metrics
    return item


def finished_run(changes: list[dict], *, dry_run: bool = False) -> SyncRun:
    now = dt.datetime.now(dt.UTC)
    return SyncRun.objects.create(
        trigger=SyncRun.Trigger.ADMIN,
        status=SyncRun.Status.SUCCEEDED,
        dry_run=dry_run,
        finished_at=now,
        weeks_checked=len(changes),
        weeks_updated=len(changes),
        changes=changes,
    )


def rows_of(html: str, table_id: str | None = None) -> list[str]:
    if table_id:
        html = html[html.index(f'id="{table_id}"') :]
        html = html[: html.index("</table>")]
    return re.findall(r"<tr>(.*?)</tr>", html, re.S)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


# --- A run's page and the dry-run diff: each week's user metric changes ---------------------
def test_a_runs_page_shows_each_weeks_metric_changes_in_their_units(admin_client, kpis):
    week = weeks.current_week_start() - weeks.ONE_WEEK
    run = finished_run(
        [
            change(week, metrics={"signups": [3, 5], "revenue": [10.5, 1234.0]}),
            change(week - weeks.ONE_WEEK, visitors=(10, 11)),
            change(week - 2 * weeks.ONE_WEEK, visitors=(10, 10), metrics={"gone": [1, 2]}),
        ]
    )
    page = admin_client.get(f"/admin/metrics/syncrun/{run.pk}/change/").content.decode()
    table = page[page.index("<th>Week</th>") :]
    assert "<th>Other metrics</th>" in table
    rows = [text(row) for row in rows_of(table)]
    assert rows[0].startswith(f"{week:%Y-%m-%d} 10 → 12 20 → 25 Signups: 3 → 5 Revenue: €10.50 → €1,234.00")
    assert rows[1] == f"{week - weeks.ONE_WEEK:%Y-%m-%d} 10 → 11 20 → 25 +1 visitors"
    # A metric deleted since the run keeps its key, as a plain number.
    assert "gone: 1 → 2" in rows[2]


def test_a_run_of_the_built_ins_alone_has_no_metric_column(admin_client, kpis):
    run = finished_run([change(weeks.current_week_start())])
    page = admin_client.get(f"/admin/metrics/syncrun/{run.pk}/change/").content.decode()
    assert "<th>Week</th>" in page and "Other metrics" not in page


@pytest.mark.parametrize("dry_run", [True, False])
def test_the_sync_pages_largest_changes_show_metric_changes(admin_client, kpis, dry_run):
    week = weeks.current_week_start()
    finished_run([change(week, metrics={"revenue": [0, 99.5], "signups": [0, 7]})], dry_run=dry_run)
    page = admin_client.get(SYNC_URL).content.decode()
    assert ("(dry run: nothing was written)" in page) is dry_run
    [row] = [text(row) for row in rows_of(page, "largest-changes")[1:]]
    assert row == f"{week:%Y-%m-%d} 10 → 12 20 → 25 Signups: 0 → 7 Revenue: €0.00 → €99.50"


def test_the_sync_progress_result_shows_metric_changes(admin_client, kpis):
    run = finished_run([change(weeks.current_week_start(), metrics={"signups": [1, 4]})], dry_run=True)
    data = admin_client.get(f"{SYNC_URL}runs/{run.pk}/progress/").json()
    assert "Other metrics" in data["result_html"] and "Signups: 1 → 4" in data["result_html"]
