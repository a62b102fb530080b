"""The admin's pages of sync runs, weeks and webhook set-up with user-defined metrics: a run's
changes and the dry-run diff per metric, "via webhook" per metric, pending restatement, the
events the destination must send, a week's page with every metric, in a fixed number of queries."""

import datetime as dt
import re
from http import HTTPStatus

import pytest

from metrics import catalog
from metrics.core import weeks
from metrics.models import Metric, MetricValue, SyncRun, WeeklyMetric
from tests.support.kpis import define

SYNC_URL = "/admin/metrics/weeklymetric/sync/"


@pytest.fixture
def kpis(db):
    define(dict(key="signups", name="Signups", kind="count", events=["signed_up"]))
    define(
        dict(key="revenue", name="Revenue", kind="sum", events=["purchase"], property="amount", unit="EUR")
    )
    define(
        dict(key="signup_rate", name="Signup rate", kind="ratio", numerator="signups", denominator="visitors")
    )


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


# --- "Via webhook" per metric, the week's page ---------------------------------------------
LIST_URL = "/admin/metrics/weeklymetric/"


@pytest.fixture
def synced_week(kpis):
    """A synced week: the webhook added 2 visitors, 5 pageviews, 3 signups and €20 of revenue
    since (revenue's row has PostHog's number; signups' has none: only the webhook wrote it)."""
    week = weeks.current_week_start() - weeks.ONE_WEEK
    row = WeeklyMetric.objects.create(
        week_start=week, visitors=12, pageviews=45, posthog_visitors=10, posthog_pageviews=40,
        synced_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    metric = {m.key: m for m in Metric.objects.all()}
    MetricValue.objects.create(metric=metric["signups"], week_start=week, value=3, posthog_value=None)
    MetricValue.objects.create(metric=metric["revenue"], week_start=week, value=120.5, posthog_value=100.5)
    return row


def via_webhook_cell(page: str) -> str:
    [cell] = re.findall(r'<td class="field-since_sync">(.*?)</td>', page, re.S)
    return cell


def test_the_list_shows_what_the_webhook_added_per_metric(admin_client, synced_week):
    cell = via_webhook_cell(admin_client.get(LIST_URL).content.decode())
    assert text(cell) == "+2 / +5 Signups +3 Revenue +€20.00"


def test_the_list_leaves_out_metrics_the_webhook_did_not_move(admin_client, synced_week):
    MetricValue.objects.filter(metric__key="revenue").update(value=100.5)
    MetricValue.objects.filter(metric__key="signups").update(posthog_value=3)
    cell = via_webhook_cell(admin_client.get(LIST_URL).content.decode())
    assert text(cell) == "+2 / +5"


def test_the_weeks_page_lists_every_metric_with_posthogs_number(admin_client, synced_week):
    page = admin_client.get(f"{LIST_URL}{synced_week.pk}/change/")
    assert page.status_code == HTTPStatus.OK
    rows = [text(row) for row in rows_of(page.content.decode(), "week-metrics")]
    assert rows == [
        "Metric This week PostHog at the last sync Via webhook since",
        "Visitors 12 10 +2",
        "Pageviews 45 40 +5",
        "Signups 3 not synced yet +3",
        "Revenue €120.50 €100.50 +€20.00",
        # 3 signups of 12 visitors now; PostHog had no number of signups at the last sync.
        "Signup rate 25.0% not synced yet —",
    ]


def test_the_weeks_page_of_a_week_never_synced(admin_client, kpis):
    row = WeeklyMetric.objects.create(week_start=weeks.current_week_start(), visitors=4, pageviews=6)
    page = admin_client.get(f"{LIST_URL}{row.pk}/change/").content.decode()
    rows = [text(row) for row in rows_of(page, "week-metrics")]
    # One rule for every metric (numbers.Week.from_webhook): before the week's first sync
    # nothing is "since the last sync", a user-defined metric's row no more than the built-ins'.
    assert rows[1] == "Visitors 4 not synced yet —" and rows[3] == "Signups 0 not synced yet —"


@pytest.mark.parametrize("extra", [0, 6])
def test_the_weeks_page_query_count_does_not_grow_with_metrics(
    admin_client, synced_week, django_assert_num_queries, extra
):
    for n in range(extra):
        define(dict(key=f"m{n}", name=f"M{n}", kind="unique", events=[f"e{n}"]))
    admin_client.get(f"{LIST_URL}{synced_week.pk}/change/")  # the session is warm
    # session, user, the week (twice: its title, then Django's page), the weeks around it, the
    # definitions, the MetricValue rows
    with django_assert_num_queries(7):
        assert admin_client.get(f"{LIST_URL}{synced_week.pk}/change/").status_code == HTTPStatus.OK


# --- Pending restatement ---------------------------------------------------------------------
PENDING = "its definition is new or changed; the next full sync restates its weeks."


def test_the_lists_and_the_form_say_which_metrics_wait_for_a_full_sync(admin_client, kpis):
    Metric.objects.filter(key="revenue").update(restate_since=None)
    weekly = admin_client.get(LIST_URL).content.decode()
    notes = rows_of_list(weekly, "pending-restatement")
    assert notes == [f"Signups: {PENDING}"]  # a ratio never waits; revenue was synced
    metric_list = admin_client.get("/admin/metrics/metric/").content.decode()
    cells = re.findall(r'<td class="field-restatement">(.*?)</td>', metric_list, re.S)
    assert [text(cell) for cell in cells].count("restated by the next full sync") == 1
    signups = admin_client.get(f"/admin/metrics/metric/{Metric.objects.get(key='signups').pk}/change/")
    assert rows_of_list(signups.content.decode(), "pending-restatement") == [f"Signups: {PENDING}"]
    revenue = admin_client.get(f"/admin/metrics/metric/{Metric.objects.get(key='revenue').pk}/change/")
    assert 'id="pending-restatement"' not in revenue.content.decode()


def test_after_a_full_sync_nothing_is_pending(admin_client, kpis):
    catalog.mark_restated(counted_before=dt.datetime.now(dt.UTC))
    assert 'id="pending-restatement"' not in admin_client.get(LIST_URL).content.decode()


def rows_of_list(html: str, list_id: str) -> list[str]:
    if f'id="{list_id}"' not in html:
        return []
    part = html[html.index(f'id="{list_id}"') :]
    return [text(item) for item in re.findall(r"<li[^>]*>(.*?)</li>", part[: part.index("</ul>")], re.S)]


# --- The events the destination must send ---------------------------------------------------
def test_the_sync_page_lists_the_events_the_destination_must_send(admin_client, kpis, client):
    define(dict(key="buyers", name="Buyers", kind="unique", events=["purchase", "trial_converted"]))
    page = admin_client.get(SYNC_URL).content.decode()
    row = page[page.index('id="destination-events"') :]
    row = row[: row.index("</tr>")]
    events = ["$pageview", "signed_up", "purchase", "trial_converted"]
    assert re.findall(r"<code>([^<]+)</code>", row)[:4] == events
    assert "event filter" in row and "step 7" in row
    # The same list as the webhook's health document.
    assert client.get("/api/webhooks/posthog").json()["send_events"] == events


# --- The cron endpoint's report ----------------------------------------------------------------
def test_the_report_json_has_every_metric(kpis):
    from metrics import reports
    from metrics.presentation import report_json

    week = reports.last_complete_week()
    WeeklyMetric.objects.create(week_start=week, visitors=40, pageviews=90)
    MetricValue.objects.create(metric=Metric.objects.get(key="signups"), week_start=week, value=4)
    report = reports.build_report(week_start=week)
    result = reports.ReportResult(report=report, sent=[], skipped=[], dry_run=False)
    assert report_json(result)["metrics"] == {
        "visitors": 40, "pageviews": 90, "signups": 4, "revenue": 0, "signup_rate": 0.1,
    }  # fmt: skip
