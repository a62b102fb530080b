"""The admin: sync page (permissions, with and without JavaScript, the lock), the WeeklyMetric
list (growth, chart, query counts, action) and the read-only SyncRun history."""

import datetime as dt
import json
import re
from http import HTTPStatus

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from metrics import numbers
from metrics.admin.chart import build_chart
from metrics.core import weeks
from metrics.models import SyncRun, WeeklyMetric
from tests.support.admin import SYNC_START_URL, SYNC_URL, messages_of, staff
from tests.support.helpers import expected, stored_numbers, truth

LIST_URL = "/admin/metrics/weeklymetric/"


@pytest.fixture
def viewer(db) -> User:
    return staff("viewer", "view_weeklymetric", "view_syncrun")


@pytest.fixture
def syncer(db) -> User:
    return staff("syncer", "view_weeklymetric", "view_syncrun", "sync_weeklymetric")


# --- Permissions -----------------------------------------------------------------------------
@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client):
    for url in (SYNC_URL, reverse("admin:metrics_weeklymetric_sync_progress", args=[1])):
        response = client.get(url)
        assert response.status_code == HTTPStatus.FOUND
        assert response["Location"].startswith("/admin/login/")


def test_staff_without_view_permission_is_refused(client, db):
    client.force_login(staff("nobody"))
    assert client.get(SYNC_URL).status_code == HTTPStatus.FORBIDDEN
    refused = client.post(SYNC_START_URL)
    assert refused.status_code == HTTPStatus.FORBIDDEN and "permission" in refused.json()["error"]
    assert SyncRun.objects.count() == 0


def test_staff_without_sync_permission_sees_the_page_read_only(client, viewer, posthog_stub):
    client.force_login(viewer)
    page = client.get(SYNC_URL)
    assert page.status_code == HTTPStatus.OK
    assert b'id="start-sync"' not in page.content
    assert b'id="test-connection"' not in page.content
    assert b"Can start a sync with PostHog" in page.content
    assert client.post(SYNC_URL).status_code == HTTPStatus.FORBIDDEN
    refused = client.post(SYNC_START_URL)
    assert refused.status_code == HTTPStatus.FORBIDDEN and "permission" in refused.json()["error"]
    assert (
        client.post(reverse("admin:metrics_weeklymetric_test_connection")).status_code == HTTPStatus.FORBIDDEN
    )
    assert SyncRun.objects.count() == 0 and posthog_stub.query_count == 0


def test_superuser_can_start_a_sync(admin_client, posthog_stub):
    page = admin_client.get(SYNC_URL)
    assert (
        b'id="start-sync"' in page.content
        and b"disabled" not in page.content.split(b'id="start-sync"')[1][:40]
    )


def test_post_only_views_answer_get_with_405(admin_client, posthog_stub):
    # require_POST: a GET (a link, a prefetch) neither starts a sync nor spends a query.
    for name in ("sync_start", "test_connection"):
        response = admin_client.get(reverse(f"admin:metrics_weeklymetric_{name}"))
        assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED, name
        assert response["Allow"] == "POST", name
    assert SyncRun.objects.count() == 0 and posthog_stub.query_count == 0
    assert reverse("admin:metrics_weeklymetric_sync_start") == SYNC_START_URL


def test_short_address_redirects_to_the_sync_page(admin_client):
    response = admin_client.get("/admin/sync/")
    assert response.status_code == HTTPStatus.FOUND and response["Location"] == SYNC_URL


def test_admin_index_and_list_link_to_the_sync_page(admin_client):
    assert f'href="{SYNC_URL}"'.encode() in admin_client.get("/admin/").content
    listing = admin_client.get(LIST_URL)
    assert b'id="sync-with-posthog"' in listing.content and f'href="{SYNC_URL}"'.encode() in listing.content


# --- What the page tells -----------------------------------------------------------------------
def test_unconfigured_posthog_is_explained_with_where_to_get_each_value(admin_client, settings):
    settings.POSTHOG_API_KEY = ""
    settings.POSTHOG_PROJECT_ID = ""
    page = admin_client.get(SYNC_URL).content.decode()
    assert "Not configured" in page
    assert "POSTHOG_API_KEY, POSTHOG_PROJECT_ID" in page or "POSTHOG_PROJECT_ID, POSTHOG_API_KEY" in page
    assert "Personal API keys" in page  # where to get the key
    assert "https://us.posthog.com/project/&lt;id&gt;" in page  # where to get the project id
    assert "No successful sync yet" in page


def test_webhook_and_cron_secrets_show_configured_never_the_value(admin_client, settings):
    settings.POSTHOG_WEBHOOK_SECRET = "s3cret-webhook-value"
    settings.CRON_SECRET = ""
    page = admin_client.get(SYNC_URL).content.decode()
    assert "s3cret-webhook-value" not in page
    assert "<code>POSTHOG_WEBHOOK_SECRET</code> set" in page
    assert "<code>POSTHOG_WEBHOOK_SIGNING_SECRET</code> not set" in page
    assert "<code>CRON_SECRET</code> not set" in page


def test_page_shows_last_run_counts_history_and_result(admin_client, posthog_stub, settings):
    admin_client.post(SYNC_URL)
    failed = SyncRun.objects.create(
        trigger=SyncRun.Trigger.CRON,
        status=SyncRun.Status.FAILED,
        error="PostHog said no",
        finished_at=dt.datetime.now(dt.UTC),
    )
    page = admin_client.get(SYNC_URL).content.decode()
    assert "1 succeeded, 1 failed" in page
    # Issue 20 #17: a past event, with its time, not the current state.
    assert f"Sync #{failed.pk} failed" in page and "just now</time>" in page
    assert "it stopped with: PostHog said no" in page
    assert page.count('href="/admin/metrics/syncrun/') >= 3  # last sync, history rows, details
    assert f"{settings.VISITORSYNC_BACKFILL_WEEKS}, " in page  # weeks stored


def test_status_page_query_count_does_not_grow_with_history(admin_client, django_assert_max_num_queries):
    for _ in range(30):
        SyncRun.objects.create(
            trigger=SyncRun.Trigger.CRON, status=SyncRun.Status.SUCCEEDED, finished_at=dt.datetime.now(dt.UTC)
        )
    with django_assert_max_num_queries(15):  # 3 of them for the reports-and-alerts panel
        assert admin_client.get(SYNC_URL).status_code == HTTPStatus.OK


# --- Starting a sync without JavaScript ------------------------------------------------------------
def test_form_post_runs_the_sync_and_reports_it_as_a_message(admin_client, posthog_stub, settings):
    response = admin_client.post(SYNC_URL, follow=True)
    assert response.redirect_chain == [(SYNC_URL, HTTPStatus.FOUND)]
    run = SyncRun.objects.get()
    assert (run.trigger, run.status, run.started_by) == (
        SyncRun.Trigger.ADMIN,
        SyncRun.Status.SUCCEEDED,
        "admin",
    )
    text = " ".join(messages_of(response))
    assert f"Sync #{run.pk}. Synced {settings.VISITORSYNC_BACKFILL_WEEKS} weeks" in text
    assert f"{run.weeks_created} created" in text
    assert stored_numbers() == expected(posthog_stub, settings)
    assert b"Largest changes" in response.content


def test_form_post_dry_run_and_since(admin_client, posthog_stub):
    since = weeks.current_week_start() - dt.timedelta(weeks=3)
    admin_client.post(SYNC_URL, {"since": since.isoformat(), "dry_run": "on"})
    run = SyncRun.objects.get()
    assert run.dry_run and run.first_week == since and run.weeks_created == 4
    assert WeeklyMetric.objects.count() == 0


def test_form_post_failure_is_an_error_message_and_changes_nothing(admin_client, posthog_stub, no_sleep):
    posthog_stub.fail_next(404)
    response = admin_client.post(SYNC_URL, follow=True)
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.FAILED
    assert any(
        f"Sync #{run.pk} failed; nothing was changed" in m and "POSTHOG_PROJECT_ID" in m
        for m in messages_of(response)
    )
    assert WeeklyMetric.objects.count() == 0


def test_future_since_is_refused_with_the_reason(admin_client, posthog_stub):
    future = (weeks.current_week_start() + dt.timedelta(weeks=2)).isoformat()
    page = admin_client.post(SYNC_URL, {"since": future})
    assert page.status_code == HTTPStatus.OK and b"future week" in page.content
    refused = admin_client.post(SYNC_START_URL, {"since": future})
    assert refused.status_code == HTTPStatus.BAD_REQUEST
    assert "future week" in refused.json()["errors"]["since"][0]["message"]
    assert SyncRun.objects.count() == 0 and posthog_stub.query_count == 0


# --- The lock ---------------------------------------------------------------------------------
def test_a_running_sync_disables_the_button_and_says_who_started_it(admin_client, posthog_stub):
    holder = SyncRun.objects.create(
        trigger=SyncRun.Trigger.COMMAND, started_by="ops", weeks_total=12, weeks_done=4
    )
    page = admin_client.get(SYNC_URL).content.decode()
    assert f"Sync #{holder.pk} (Management command, started by ops) has been running since" in page
    assert 'id="start-sync" value="Start sync" disabled' in page
    assert f'data-progress-url="/admin/metrics/weeklymetric/sync/runs/{holder.pk}/progress/"' in page


def test_starting_while_another_sync_runs_is_a_409_naming_it(admin_client, posthog_stub):
    holder = SyncRun.objects.create(trigger=SyncRun.Trigger.CRON, started_by="cron-bot")
    conflict = admin_client.post(SYNC_START_URL)
    assert conflict.status_code == HTTPStatus.CONFLICT
    body = conflict.json()
    assert f"Sync #{holder.pk}" in body["error"] and "cron-bot" in body["error"]
    assert body["running"]["id"] == holder.pk and body["running"]["started_by"] == "cron-bot"
    assert body["running"]["started_at"] == holder.started_at.isoformat()
    no_js = admin_client.post(SYNC_URL, follow=True)
    assert any(f"Sync #{holder.pk}" in m for m in messages_of(no_js))
    # The page is HTML whatever the Accept header says: JSON is the start view's alone.
    asked_for_json = admin_client.post(SYNC_URL, HTTP_ACCEPT="application/json")
    assert asked_for_json.status_code == HTTPStatus.FOUND and asked_for_json["Location"] == SYNC_URL
    assert SyncRun.objects.count() == 1 and posthog_stub.query_count == 0


# --- Starting a sync with JavaScript (background thread, polled progress) ----------------------------
@pytest.mark.django_db(transaction=True)
def test_json_post_runs_in_the_background_and_progress_reports_the_result(
    admin_client, posthog_stub, settings, background_syncs
):
    settings.VISITORSYNC_CHUNK_WEEKS = 4
    posthog_stub.barrier_before_answer = gate = __import__("threading").Event()
    started = admin_client.post(SYNC_START_URL)
    assert started.status_code == HTTPStatus.ACCEPTED
    run_id = started.json()["id"]
    progress_url = started.json()["progress_url"]
    # The request returned while PostHog has not answered: the sync is still running.
    running = admin_client.get(progress_url).json()
    assert running["status"] == SyncRun.Status.RUNNING and "result_html" not in running
    assert running["weeks_total"] == settings.VISITORSYNC_BACKFILL_WEEKS
    gate.set()
    background_syncs.wait_until_finished(run_id)
    finished = admin_client.get(progress_url).json()
    assert finished["status"] == SyncRun.Status.SUCCEEDED
    assert finished["weeks_done"] == finished["weeks_total"] == settings.VISITORSYNC_BACKFILL_WEEKS
    assert f"Sync #{run_id} finished" in finished["result_html"]
    assert "created" in finished["result_html"]
    assert SyncRun.objects.get(pk=run_id).queries == 3  # 12 weeks in chunks of 4
    assert stored_numbers() == expected(posthog_stub, settings)


@pytest.mark.django_db(transaction=True)
def test_background_failure_is_recorded_and_reported_by_progress(
    admin_client, posthog_stub, no_sleep, background_syncs
):
    posthog_stub.fail_next(401, {"detail": "Invalid personal API key."})
    run_id = admin_client.post(SYNC_START_URL).json()["id"]
    background_syncs.wait_until_finished(run_id)
    finished = admin_client.get(reverse("admin:metrics_weeklymetric_sync_progress", args=[run_id])).json()
    assert finished["status"] == SyncRun.Status.FAILED
    assert "rejected the API key" in finished["result_html"]
    assert not SyncRun.objects.filter(status=SyncRun.Status.RUNNING).exists()  # lock released


def test_progress_of_an_unknown_run_is_404_json(admin_client):
    response = admin_client.get(reverse("admin:metrics_weeklymetric_sync_progress", args=[999]))
    assert response.status_code == HTTPStatus.NOT_FOUND and "no sync #999" in response.json()["error"]


# --- Test connection ----------------------------------------------------------------------------
def test_connection_test_reports_ok_with_the_project_time_zone(admin_client, posthog_stub, settings):
    response = admin_client.post(reverse("admin:metrics_weeklymetric_test_connection"), follow=True)
    text = " ".join(messages_of(response))
    assert f"Connected to PostHog at {posthog_stub.url}, project 12345" in text
    assert f"time zone is {settings.VISITORSYNC_TIMEZONE}" in text
    assert "VISITORSYNC_TIMEZONE is" not in text
    assert posthog_stub.query_count == 1


def test_connection_test_warns_when_time_zones_differ(admin_client, posthog_stub, settings):
    posthog_stub.timezone = "America/New_York"
    response = admin_client.post(reverse("admin:metrics_weeklymetric_test_connection"), follow=True)
    warning = [m for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]
    assert len(warning) == 1 and f"VISITORSYNC_TIMEZONE is {settings.VISITORSYNC_TIMEZONE}" in str(warning[0])


def test_connection_test_explains_a_rejected_key(admin_client, posthog_stub, settings):
    settings.POSTHOG_API_KEY = "phx_revoked"
    response = admin_client.post(reverse("admin:metrics_weeklymetric_test_connection"), follow=True)
    assert any("Connection test failed" in m and "rejected the API key" in m for m in messages_of(response))


def test_connection_test_detects_a_project_key_without_querying(admin_client, posthog_stub, settings):
    settings.POSTHOG_API_KEY = "phc_projectkey"
    response = admin_client.post(reverse("admin:metrics_weeklymetric_test_connection"), follow=True)
    assert any("project API key" in m for m in messages_of(response))
    assert posthog_stub.query_count == 0


# --- WeeklyMetric list ---------------------------------------------------------------------------
def make_weeks(count: int, *, visitors=lambda i: 100 + i) -> list[WeeklyMetric]:
    current = weeks.current_week_start()
    return WeeklyMetric.objects.bulk_create(
        WeeklyMetric(week_start=current - weeks.ONE_WEEK * i, visitors=visitors(i), pageviews=3 * visitors(i))
        for i in range(count)
    )


@pytest.mark.parametrize("count", [3, 40])
def test_list_query_count_is_fixed(admin_client, django_assert_num_queries, count):
    make_weeks(count)
    SyncRun.objects.create(trigger=SyncRun.Trigger.CRON, status=SyncRun.Status.SUCCEEDED)
    # session, user, the metric definitions, chart, headline, 2 counts, rows (with the week
    # before), the page's weeks before and a year before (stats), date hierarchy (2); user-defined
    # metrics add one for the page's values and one for the chart's (tests/test_metric_admin.py);
    # the metrics pending restatement (one, whatever their number)
    with django_assert_num_queries(12):
        response = admin_client.get(LIST_URL)
    assert response.status_code == HTTPStatus.OK
    assert response.content.count(b'class="field-week"') == count


def test_growth_is_signed_coloured_and_blank_without_the_week_before(admin_client):
    current = weeks.current_week_start()
    for offset, visitors in [(0, 150), (1, 200), (2, 100), (4, 50), (6, 0), (7, 10)]:
        WeeklyMetric.objects.create(week_start=current - weeks.ONE_WEEK * offset, visitors=visitors)
    page = admin_client.get(LIST_URL).content.decode()
    cells = re.findall(r'<td class="field-growth">(.*?)</td>', page)
    # The week in progress is compared as the headline compares it (issue 20 #11: one
    # comparison, one number): against last week prorated to this point; marked, not coloured.
    card = r"<h3>Visitors, this week so far</h3>.*?<span class=\"vs-\w+\">[▲▼ ]*([-+]?[\d.]+%)</span>"
    headline = re.search(card, page, re.S).group(1)
    assert re.fullmatch(
        r'<span class="vs-quiet" title="this week so far, against last week\'s total prorated to this '
        r'point \(≈\d+\)">' + re.escape(headline) + " so far</span>",
        cells[0],
    ), (cells[0], headline)
    assert cells[1:] == [
        '<span class="vs-up" title="from 100">▲ +100.0%</span>',  # 100 -> 200
        "-",  # the week before is not stored
        "-",  # the week before is not stored
        '<span class="vs-down" title="from 10">▼ -100.0%</span>',  # 10 -> 0
        "-",  # the first week
    ]


def test_growth_survives_list_filters(admin_client):
    current = weeks.current_week_start()
    WeeklyMetric.objects.create(
        week_start=current - weeks.ONE_WEEK, visitors=100, synced_at=dt.datetime.now(dt.UTC)
    )
    WeeklyMetric.objects.create(week_start=current, visitors=120)
    page = admin_client.get(LIST_URL, {"synced": "never"}).content.decode()
    assert page.count('class="field-week"') == 1 and "% so far</span>" in page


def test_webhook_difference_and_never_synced_filter(admin_client):
    current = weeks.current_week_start()
    WeeklyMetric.objects.create(
        week_start=current,
        visitors=105,
        pageviews=300,
        posthog_visitors=100,
        posthog_pageviews=290,
        synced_at=dt.datetime.now(dt.UTC),
    )
    WeeklyMetric.objects.create(week_start=current - weeks.ONE_WEEK, visitors=7)
    page = admin_client.get(LIST_URL).content.decode()
    assert ">+5 / +10</span>" in page and "not synced yet" in page
    never = admin_client.get(LIST_URL, {"synced": "never"}).content.decode()
    assert never.count('class="field-week"') == 1 and "not synced yet" in never


def test_list_shows_the_chart_with_the_current_week_in_progress(admin_client):
    make_weeks(30)
    page = admin_client.get(LIST_URL).content.decode()
    chart = page.split('id="weekly-chart"')[1].split("</svg>")[0]
    assert chart.count('class="vs-bar"') == 25 and chart.count('class="vs-bar-current"') == 1
    assert "this week, in progress" in chart
    current = weeks.current_week_start()
    assert f"Week of {current:%Y-%m-%d} (in progress): 100 visitors, 300 pageviews" in chart
    assert f"{current:%b} {current.day}</text>" in chart  # the x axis labels the current week
    assert ">0</text>" in chart  # the y axis starts at zero
    assert chart.count('class="vs-panel-title"') == 2  # visitors and pageviews, each on its own


def test_empty_list_invites_to_sync(admin_client):
    page = admin_client.get(LIST_URL).content.decode()
    assert "The chart appears once two weeks are stored" in page and f'href="{SYNC_URL}"' in page
    assert 'class="field-week"' not in page  # no week is listed


def stored_weeks(stored: dict[dt.date, tuple[int, int]]) -> list[numbers.Week]:
    """Weeks of the read model from week -> (visitors, pageviews), read now."""
    now = dt.datetime.now(dt.UTC)
    return [
        numbers.Week(week_start=week, values={"visitors": v, "pageviews": p}, read_at=now)
        for week, (v, p) in stored.items()
    ]


def test_chart_scale_and_gaps():
    first = dt.date(2025, 1, 6)
    shown = stored_weeks(
        {first: (10, 37), first + weeks.ONE_WEEK: (20, 30), first + 3 * weeks.ONE_WEEK: (5, 9)}
    )
    chart = build_chart(shown, first_week=first, last_week=first + 3 * weeks.ONE_WEEK)
    assert [t.label for t in chart.pageviews_ticks] == ["0", "10", "20", "30", "40"]
    assert len(chart.bars) == 3
    # The pen lifts over the week that is not stored.
    assert chart.visitors_path.count("M") == 2 and chart.visitors_path.count("L") == 1
    tallest = max(chart.bars, key=lambda b: b.pageviews)
    assert tallest.pageviews_y > chart.pageviews_top  # 37 of 40 stays inside the plot


def test_visitors_have_their_own_scale_not_the_pageviews_one():
    first = dt.date(2025, 1, 6)
    shown = stored_weeks({first: (100, 400), first + weeks.ONE_WEEK: (200, 800)})
    chart = build_chart(shown, first_week=first, last_week=first + weeks.ONE_WEEK)
    assert chart.visitors_ticks[-1].label == "200" and chart.pageviews_ticks[-1].label == "800"
    # The busiest week's visitors reach the top of their panel, not a quarter of the way up.
    assert max(chart.bars, key=lambda b: b.visitors).visitors_y == chart.visitors_top


def test_chart_starts_at_the_first_stored_week(admin_client):
    make_weeks(10)
    page = admin_client.get(LIST_URL).content.decode()
    first = weeks.current_week_start() - weeks.ONE_WEEK * 9
    assert f"Weekly visitors and pageviews, {first:%Y-%m-%d} to the current week" in page
    chart = page.split('id="weekly-chart"')[1].split("</svg>")[0]
    assert chart.count('class="vs-bar"') == 9
    assert "last-year-line" not in chart  # nothing stored a year earlier


def test_chart_draws_the_same_weeks_a_year_earlier_when_stored(admin_client):
    make_weeks(60)
    page = admin_client.get(LIST_URL).content.decode()
    chart = page.split('id="weekly-chart"')[1].split("</svg>")[0]
    path = re.search(r'<path d="([^"]+)" class="vs-line-year"', chart).group(1)
    # Weeks up to 59 back are stored: the 8 newest weeks shown (0..7 back) have a year-earlier point.
    assert path.count("M") == 1 and path.count("L") == 7
    assert "Unique visitors, same week a year earlier" in page


def test_change_form_keeps_synced_numbers_read_only(admin_client):
    metric = make_weeks(1)[0]
    page = admin_client.get(reverse("admin:metrics_weeklymetric_change", args=[metric.pk])).content.decode()
    for name in ("week_start", "visitors", "pageviews", "posthog_visitors", "synced_at"):
        assert f'name="{name}"' not in page
    admin_client.post(reverse("admin:metrics_weeklymetric_change", args=[metric.pk]), {"visitors": 1})
    metric.refresh_from_db()
    assert metric.visitors == 100


# --- The action -----------------------------------------------------------------------------------
def test_action_syncs_the_selected_weeks_through_the_lock(admin_client, posthog_stub, settings):
    chosen = make_weeks(6, visitors=lambda i: 1)[2:4]
    response = admin_client.post(
        LIST_URL, {"action": "sync_selected_weeks", "_selected_action": [m.pk for m in chosen]}, follow=True
    )
    run = SyncRun.objects.get()
    assert (
        run.trigger == SyncRun.Trigger.ADMIN_ACTION and run.weeks_checked == 2 and run.started_by == "admin"
    )
    known = truth(posthog_stub, settings)
    for metric in chosen:
        metric.refresh_from_db()
        assert (metric.visitors, metric.pageviews) == known.get(metric.week_start, (0, 0))
    assert any(f"Sync #{run.pk}. Synced 2 weeks" in m for m in messages_of(response))


def test_action_while_a_sync_runs_changes_nothing(admin_client, posthog_stub):
    chosen = make_weeks(2, visitors=lambda i: 1)
    SyncRun.objects.create(trigger=SyncRun.Trigger.CRON)
    response = admin_client.post(
        LIST_URL, {"action": "sync_selected_weeks", "_selected_action": [m.pk for m in chosen]}, follow=True
    )
    assert any("Nothing was changed" in m and "running since" in m for m in messages_of(response))
    assert posthog_stub.query_count == 0 and set(WeeklyMetric.objects.values_list("visitors", flat=True)) == {
        1
    }


def test_action_is_offered_only_with_the_sync_permission(client, viewer, syncer):
    make_weeks(1)
    client.force_login(viewer)
    assert b"sync_selected_weeks" not in client.get(LIST_URL).content
    client.force_login(syncer)
    assert b"sync_selected_weeks" in client.get(LIST_URL).content


# --- SyncRun history --------------------------------------------------------------------------------
def test_sync_run_admin_is_read_only_and_shows_changes_and_error(admin_client):
    run = SyncRun.objects.create(
        trigger=SyncRun.Trigger.ADMIN,
        status=SyncRun.Status.SUCCEEDED,
        finished_at=dt.datetime.now(dt.UTC),
        changes=[
            {"week": "2025-03-10", "created": False, "visitors": [10, 12], "pageviews": [30, 33]},
            {"week": "2025-03-17", "created": True, "visitors": [None, 5], "pageviews": [None, 9]},
        ],
    )
    failed = SyncRun.objects.create(
        trigger=SyncRun.Trigger.CRON, status=SyncRun.Status.FAILED, error="PostHog rejected the API key"
    )
    assert admin_client.get(reverse("admin:metrics_syncrun_add")).status_code == HTTPStatus.FORBIDDEN
    assert (
        admin_client.post(reverse("admin:metrics_syncrun_delete", args=[run.pk])).status_code
        == HTTPStatus.FORBIDDEN
    )
    detail = admin_client.get(reverse("admin:metrics_syncrun_change", args=[run.pk])).content.decode()
    assert (
        "<td>10 → 12</td><td>30 → 33</td>" in detail
        and "<td>new → 5</td><td>new → 9</td><td>+5 visitors</td>" in detail
    )
    assert 'type="submit"' not in detail.split('id="content-main"')[1]
    assert (
        "PostHog rejected the API key"
        in admin_client.get(reverse("admin:metrics_syncrun_change", args=[failed.pk])).content.decode()
    )
    listing = admin_client.get(reverse("admin:metrics_syncrun_changelist")).content.decode()
    assert "vs-status-failed" in listing and "vs-status-succeeded" in listing
    # Issue 20 #12: seven columns (the week counts in one), so the list fits 1280 px.
    header = listing.split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert header.count('scope="col"') == 7
    assert "Weeks" in header and "new, 0 updated, 0 unchanged</span>" in listing


def test_progress_json_never_contains_secrets(admin_client, settings):
    settings.POSTHOG_API_KEY = "phx_do_not_leak"
    run = SyncRun.objects.create(trigger=SyncRun.Trigger.ADMIN)
    body = admin_client.get(reverse("admin:metrics_weeklymetric_sync_progress", args=[run.pk])).content
    assert b"phx_do_not_leak" not in body and json.loads(body)["status"] == "running"


# --- Run details need "Can view sync run" (issue 10, finding 4) --------------------------------
def a_failed_run_with_details() -> SyncRun:
    return SyncRun.objects.create(
        trigger=SyncRun.Trigger.ADMIN,
        status=SyncRun.Status.FAILED,
        started_by="alice-the-admin",
        error="PostHog has no project 999 at https://posthog.internal.example (404).",
        changes=[{"week": "2025-03-10", "created": False, "visitors": [5, 7], "pageviews": [9, 11]}],
        finished_at=timezone.now(),
    )


def test_without_view_syncrun_the_progress_endpoint_shows_no_run_details(client, db):
    run = a_failed_run_with_details()
    client.force_login(staff("counter", "view_weeklymetric"))
    response = client.get(reverse("admin:metrics_weeklymetric_sync_progress", args=[run.pk]))
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["status"] == "failed" and body["id"] == run.pk
    for private in ("error", "started_by", "changes", "result_html", "detail_url"):
        assert private not in body, private
    text = response.content.decode()
    assert "alice-the-admin" not in text and "posthog.internal.example" not in text


def test_without_view_syncrun_the_sync_page_shows_no_history_or_errors(client, db):
    a_failed_run_with_details()
    client.force_login(staff("counter", "view_weeklymetric"))
    page = client.get(SYNC_URL).content.decode()
    assert "alice-the-admin" not in page and "posthog.internal.example" not in page
    assert "needs the “Can view sync run” permission" in page
    assert reverse("admin:metrics_syncrun_change", args=[SyncRun.objects.get().pk]) not in page


def test_with_view_syncrun_the_same_run_shows_its_details(client, viewer):
    run = a_failed_run_with_details()
    client.force_login(viewer)
    body = client.get(reverse("admin:metrics_weeklymetric_sync_progress", args=[run.pk])).json()
    assert body["started_by"] == "alice-the-admin" and "posthog.internal.example" in body["error"]
    assert body["changes"] == run.changes and "result_html" in body
    page = client.get(SYNC_URL).content.decode()
    assert "alice-the-admin" in page and "posthog.internal.example" in page


# --- Weeks come from PostHog and the webhook only (issue 10, finding 8) ----------------------
def test_weeks_cannot_be_added_by_hand(admin_client):
    assert admin_client.get(reverse("admin:metrics_weeklymetric_add")).status_code == HTTPStatus.FORBIDDEN
    response = admin_client.post(reverse("admin:metrics_weeklymetric_add"), {"week_start": "0001-01-01"})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert WeeklyMetric.objects.count() == 0
    assert reverse("admin:metrics_weeklymetric_add") not in admin_client.get(LIST_URL).content.decode()


def test_without_view_syncrun_a_lock_holder_is_not_named(client, posthog_stub, db):
    holder = SyncRun.objects.create(trigger=SyncRun.Trigger.CRON, started_by="alice-the-admin")
    client.force_login(staff("starter", "view_weeklymetric", "sync_weeklymetric"))
    conflict = client.post(SYNC_START_URL)
    assert conflict.status_code == HTTPStatus.CONFLICT
    assert f"Sync #{holder.pk} (Cron endpoint) has been running since" in conflict.json()["error"]
    assert "alice-the-admin" not in conflict.content.decode()
    response = client.post(SYNC_URL, follow=True)
    assert "alice-the-admin" not in response.content.decode()
    assert any(f"Sync #{holder.pk} (Cron endpoint)" in m for m in messages_of(response))


def test_a_week_page_is_a_read_only_view_titled_by_its_week(admin_client):
    # Issue 20 #13: it was "Change weekly metric" with save buttons and "Posthog visitors".
    week = weeks.current_week_start() - weeks.ONE_WEEK
    row = WeeklyMetric.objects.create(
        week_start=week, visitors=12, pageviews=30, posthog_visitors=10, posthog_pageviews=25
    )
    page = admin_client.get(reverse("admin:metrics_weeklymetric_change", args=[row.pk])).content.decode()
    assert f"<h1>Week of {week:%Y-%m-%d}</h1>" in page
    assert "Change weekly metric" not in page and 'name="_save"' not in page
    assert 'name="_continue"' not in page
    assert "PostHog visitors" in page and "Posthog" not in page
    change_url = reverse("admin:metrics_weeklymetric_change", args=[row.pk])
    assert admin_client.post(change_url, {}).status_code == 403
    row.refresh_from_db()
    assert (row.visitors, row.pageviews) == (12, 30)
