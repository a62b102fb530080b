"""The tracker service against the loopback PostHog stub (real HTTP) and a real database."""

import datetime as dt
import itertools

import pytest
import responses
from django.db.models import F
from django.utils import timezone

from metrics import tracker
from metrics.core import weeks
from metrics.models import SyncRun, WeeklyMetric
from metrics.posthog import PostHogClient
from tests.support.helpers import QUERY_URL, expected, monday, query_bounds, stored_numbers, truth

pytestmark = pytest.mark.django_db

TRIGGER = SyncRun.Trigger.COMMAND


def test_empty_table_backfills_configured_weeks(posthog_stub, settings):
    settings.VISITORSYNC_BACKFILL_WEEKS = 12
    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))
    first = weeks.current_week_start() - dt.timedelta(weeks=11)
    assert stored_numbers() == expected(posthog_stub, settings, first)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.weeks_checked == run.weeks_created == 12
    assert run.queries == 1


def test_sync_fills_gaps_from_earliest_stored_week(posthog_stub, settings):
    current = weeks.current_week_start()
    WeeklyMetric.objects.create(week_start=current - dt.timedelta(weeks=25), visitors=1, pageviews=1)
    WeeklyMetric.objects.create(week_start=current - dt.timedelta(weeks=3), visitors=1, pageviews=1)
    tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))
    got = stored_numbers()
    assert list(got) == list(weeks.week_range(current - dt.timedelta(weeks=25), current))
    assert got == expected(posthog_stub, settings, current - dt.timedelta(weeks=25))


def test_weeks_the_webhook_created_before_the_first_sync_do_not_stop_the_backfill(posthog_stub, settings):
    # Found by tests/test_whole_system.py: PostHog's webhook is often set up before the first
    # sync runs, and its one week used to count as "history", so nothing older was fetched.
    settings.VISITORSYNC_BACKFILL_WEEKS = 12
    current = weeks.current_week_start()
    WeeklyMetric.objects.create(week_start=current - dt.timedelta(weeks=1), visitors=1, pageviews=1)
    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))
    assert run.weeks_checked == 12
    assert stored_numbers() == expected(posthog_stub, settings, current - dt.timedelta(weeks=11))


def test_after_the_first_sync_the_earliest_stored_week_decides(posthog_stub, settings):
    settings.VISITORSYNC_BACKFILL_WEEKS = 12
    current = weeks.current_week_start()
    tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER, since=current - dt.timedelta(weeks=2)))
    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))
    assert run.weeks_checked == 3


def test_weeks_absent_from_posthog_are_zero(posthog_stub, settings):
    settings.VISITORSYNC_BACKFILL_WEEKS = 30
    tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))
    known = truth(posthog_stub, settings)
    zero_weeks = [w for w, numbers in stored_numbers().items() if numbers == (0, 0)]
    assert zero_weeks, "the fixture has empty weeks (gap_weeks)"
    assert all(w not in known for w in zero_weeks)
    assert all(m.posthog_visitors == 0 for m in WeeklyMetric.objects.filter(week_start__in=zero_weeks))


def test_second_run_changes_nothing(posthog_stub):
    first = tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))
    before = stored_numbers()
    second = tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))
    assert stored_numbers() == before
    assert first.weeks_created == 12
    assert (second.weeks_created, second.weeks_updated, second.weeks_unchanged) == (0, 0, 12)
    assert second.changes == []


def test_changes_record_before_and_after(posthog_stub):
    week = weeks.current_week_start() - dt.timedelta(weeks=1)
    WeeklyMetric.objects.create(week_start=week, visitors=99999, pageviews=99999)
    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER, since=week))
    after = stored_numbers()[week]
    week_change = next(c for c in run.changes if c["week"] == week.isoformat())
    assert week_change == {
        "week": week.isoformat(),
        "created": False,
        "visitors": [99999, after[0]],
        "pageviews": [99999, after[1]],
    }
    metric = WeeklyMetric.objects.get(week_start=week)
    assert (metric.posthog_visitors, metric.posthog_pageviews) == after
    assert metric.synced_at is not None


def test_since_backfills_older_weeks(posthog_stub, settings):
    settings.VISITORSYNC_BACKFILL_WEEKS = 4
    tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))
    since = weeks.current_week_start() - dt.timedelta(weeks=20) + dt.timedelta(days=3)
    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER, since=since))
    assert run.first_week == weeks.week_start_for_date(since)
    assert run.weeks_created == 17
    assert stored_numbers() == expected(posthog_stub, settings, weeks.week_start_for_date(since))


def test_since_in_the_future_is_refused(posthog_stub):
    with pytest.raises(ValueError, match="future"):
        tracker.sync_all_metrics(
            tracker.SyncOptions(trigger=TRIGGER, since=dt.date.today() + dt.timedelta(days=30))
        )


def test_progress_callback_reports_weeks_and_phases(posthog_stub, settings):
    settings.VISITORSYNC_CHUNK_WEEKS = 5
    seen = []
    run = tracker.sync_all_metrics(
        tracker.SyncOptions(trigger=TRIGGER), progress=lambda d, t, p: seen.append((d, t, p))
    )
    assert seen == [
        (0, 12, "Asking PostHog"),
        (5, 12, "Asking PostHog"),
        (10, 12, "Asking PostHog"),
        (12, 12, "Asking PostHog"),
        (12, 12, "Writing"),
    ]
    assert run.queries == 3
    assert run.weeks_done == 12


def test_dry_run_writes_nothing_but_reports_changes(posthog_stub):
    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER, dry_run=True))
    assert WeeklyMetric.objects.count() == 0
    assert run.dry_run and run.weeks_created == 12 and len(run.changes) == 12


@responses.activate
def test_failure_mid_run_changes_nothing_and_is_recorded(settings, no_sleep):
    settings.VISITORSYNC_CHUNK_WEEKS = 4
    current = weeks.current_week_start()
    WeeklyMetric.objects.create(week_start=current - dt.timedelta(weeks=11), visitors=5, pageviews=9)
    responses.post(QUERY_URL, json={"results": [], "hasMore": False})
    responses.post(QUERY_URL, json={"detail": "Invalid personal API key."}, status=401)
    before = stored_numbers()
    with pytest.raises(tracker.SyncFailed, match="rejected the API key") as caught:
        tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))
    assert stored_numbers() == before
    run = SyncRun.objects.get()
    assert caught.value.run == run
    assert run.status == SyncRun.Status.FAILED
    assert "Query Read" in run.error
    assert run.queries == 2
    assert run.finished_at is not None


def test_wipeout_is_refused_unless_forced(posthog_stub, settings):
    settings.VISITORSYNC_EVENT = "$no_such_event"
    week = weeks.current_week_start() - dt.timedelta(weeks=2)
    WeeklyMetric.objects.create(week_start=week, visitors=40, pageviews=100)
    with pytest.raises(tracker.WipeoutRefused, match="--force") as caught:
        tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))
    assert "VISITORSYNC_EVENT ('$no_such_event')" in str(caught.value)
    assert stored_numbers() == {week: (40, 100)}
    assert SyncRun.objects.get().status == SyncRun.Status.FAILED

    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER, force=True))
    assert run.forced and run.status == SyncRun.Status.SUCCEEDED
    assert stored_numbers()[week] == (0, 0)


def test_a_running_sync_holds_the_lock(posthog_stub):
    holder = SyncRun.objects.create(trigger=SyncRun.Trigger.CRON, status=SyncRun.Status.RUNNING)
    with pytest.raises(tracker.SyncInProgress, match=f"Sync #{holder.pk} \\(Cron endpoint\\)") as caught:
        tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))
    assert caught.value.run == holder
    assert posthog_stub.query_count == 0
    assert SyncRun.objects.count() == 1


def test_an_abandoned_sync_is_expired_and_its_lock_freed(posthog_stub, settings):
    settings.VISITORSYNC_SYNC_ABANDON_AFTER = 60
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    dead = SyncRun.objects.create(trigger=SyncRun.Trigger.CRON, started_at=long_ago, heartbeat_at=long_ago)
    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))
    dead.refresh_from_db()
    assert dead.status == SyncRun.Status.FAILED and "Abandoned" in dead.error
    assert run.status == SyncRun.Status.SUCCEEDED


def test_lock_is_released_after_failure(posthog_stub, no_sleep):
    posthog_stub.fail_next(403, {"detail": "forbidden"})
    with pytest.raises(tracker.SyncFailed):
        tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))
    assert tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER)).status == SyncRun.Status.SUCCEEDED


class WebhookDuringQuery(PostHogClient):
    """A client during whose queries a webhook counts one more pageview by a new visitor."""

    def __init__(self, *, weeks_hit: list[dt.date]) -> None:
        super().__init__()
        self.weeks_hit = weeks_hit

    def weekly_counts(self, **kwargs):
        for week in self.weeks_hit:
            if not WeeklyMetric.objects.filter(week_start=week).update(
                visitors=F("visitors") + 1, pageviews=F("pageviews") + 1
            ):
                WeeklyMetric.objects.create(week_start=week, visitors=1, pageviews=1)
        return super().weekly_counts(**kwargs)


def test_increments_during_a_query_are_kept(posthog_stub, settings):
    """Webhook increments that arrive while PostHog is being asked survive the sync.

    The previous week's row exists (the UPDATE path); the current week's row is created
    by the webhook during the query (the sync's INSERT loses the race and updates it).
    """
    settings.VISITORSYNC_BACKFILL_WEEKS = 2
    current = weeks.current_week_start()
    previous = current - dt.timedelta(weeks=1)
    WeeklyMetric.objects.create(week_start=previous, visitors=1, pageviews=1)
    tracker.sync_all_metrics(
        tracker.SyncOptions(trigger=TRIGGER, client=WebhookDuringQuery(weeks_hit=[previous, current]))
    )
    known = expected(posthog_stub, settings, previous)
    for week in (previous, current):
        metric = WeeklyMetric.objects.get(week_start=week)
        assert (metric.posthog_visitors, metric.posthog_pageviews) == known[week]
        assert (metric.visitors, metric.pageviews) == (known[week][0] + 1, known[week][1] + 1)


def test_increments_before_a_chunk_is_asked_are_replaced_by_posthogs_answer(posthog_stub, settings):
    """Each chunk is snapshotted right before its own query, so the window is one query.

    With one week per chunk, a pageview counted while the older week is being asked lands
    before the current week's snapshot: PostHog's answer for that week is taken as is.
    """
    settings.VISITORSYNC_BACKFILL_WEEKS = 2
    settings.VISITORSYNC_CHUNK_WEEKS = 1
    current = weeks.current_week_start()
    WeeklyMetric.objects.create(week_start=current, visitors=500, pageviews=900)
    client = WebhookDuringQuery(weeks_hit=[current])
    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER, client=client))
    assert run.queries == 2
    known = expected(posthog_stub, settings, current - dt.timedelta(weeks=1))
    metric = WeeklyMetric.objects.get(week_start=current)
    # The hit during the first (older) chunk's query came before this week's snapshot;
    # the hit during this week's own query is kept on top.
    assert (metric.visitors, metric.pageviews) == (known[current][0] + 1, known[current][1] + 1)


def test_a_run_presumed_dead_writes_nothing_and_keeps_the_abandoned_record(posthog_stub):
    """If another process expired this run's lock mid-query, the run must not write too."""

    class ExpiredDuringQuery(PostHogClient):
        def weekly_counts(self, **kwargs):
            SyncRun.objects.filter(status=SyncRun.Status.RUNNING).update(
                status=SyncRun.Status.FAILED, error="Abandoned: no progress"
            )
            return super().weekly_counts(**kwargs)

    with pytest.raises(tracker.LockLost, match="presumed dead") as caught:
        tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER, client=ExpiredDuringQuery()))
    assert WeeklyMetric.objects.count() == 0
    run = SyncRun.objects.get()
    assert caught.value.run.pk == run.pk
    assert (run.status, run.error) == (SyncRun.Status.FAILED, "Abandoned: no progress")


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_ctrl_c_during_a_sync_is_recorded_as_interrupted_and_frees_the_lock(posthog_stub, settings, stop):
    """Ctrl-C is not a bug: not "Internal error", and the next sync need not wait for the abandon limit."""
    settings.VISITORSYNC_CHUNK_WEEKS = 4

    class StoppedDuringSecondQuery(PostHogClient):
        def weekly_counts(self, **kwargs):
            if self.queries == 1:
                raise stop()
            return super().weekly_counts(**kwargs)

    with pytest.raises(stop):
        tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER, client=StoppedDuringSecondQuery()))
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.FAILED
    assert run.error == f"Interrupted ({stop.__name__}) before it finished; no number was changed."
    assert "Internal error" not in run.error
    assert WeeklyMetric.objects.count() == 0
    # The lock is free at once.
    assert tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER)).status == SyncRun.Status.SUCCEEDED


def test_an_unexpected_error_is_recorded_as_internal_and_changes_nothing(posthog_stub):
    class Broken(PostHogClient):
        def weekly_counts(self, **kwargs):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER, client=Broken()))
    run = SyncRun.objects.get()
    assert (run.status, run.error) == (SyncRun.Status.FAILED, "Internal error: RuntimeError('boom')")
    assert WeeklyMetric.objects.count() == 0


def test_counts_beyond_32_bits_are_stored_and_read_back(posthog_stub):
    """A busy site's pageviews outgrow 32 bits; the columns are 64-bit on SQLite and PostgreSQL."""
    week = weeks.current_week_start()
    big = 2**31 + 5
    posthog_stub.answer_next({"results": [[week.isoformat(), big, big + 2]], "hasMore": False})
    run = tracker.sync_weeks(tracker.SyncOptions(trigger=TRIGGER), week_starts=[week])
    assert run.status == SyncRun.Status.SUCCEEDED and run.weeks_created == 1
    metric = WeeklyMetric.objects.get()
    assert (metric.visitors, metric.pageviews, metric.posthog_visitors, metric.posthog_pageviews) == (
        big,
        big + 2,
        big,
        big + 2,
    )
    # The webhook keeps counting on top, in the database (F() + 1).
    tracker.record_pageview(key="big-1", event="$pageview", timestamp=timezone.now(), visitor_id="someone")
    metric.refresh_from_db()
    assert (metric.visitors, metric.pageviews) == (big + 1, big + 3)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (lambda w: [[w, 5.9, 10]], "not a whole number"),
        (lambda w: [[w, True, True]], "not a whole number"),
        (lambda w: [[w, 2**63, 2**63]], "not a whole number"),
        (lambda w: [[w, 1, 2], [w, 3, 4]], "twice in one answer"),
    ],
    ids=["float", "bool", "beyond-64-bits", "week-twice"],
)
def test_an_impossible_answer_fails_the_sync_and_changes_nothing(posthog_stub, rows, message):
    week = weeks.current_week_start()
    WeeklyMetric.objects.create(week_start=week, visitors=3, pageviews=4)
    posthog_stub.answer_next({"results": rows(week.isoformat()), "hasMore": False})
    with pytest.raises(tracker.SyncFailed, match=message) as caught:
        tracker.sync_weeks(tracker.SyncOptions(trigger=TRIGGER), week_starts=[week])
    run = SyncRun.objects.get()
    assert caught.value.run == run
    assert run.status == SyncRun.Status.FAILED and message in run.error
    assert "Internal error" not in run.error
    assert stored_numbers() == {week: (3, 4)}


def test_since_is_refused_for_a_list_of_weeks(posthog_stub):
    current = weeks.current_week_start()
    with pytest.raises(tracker.InvalidSyncRequest, match="since applies to a full sync"):
        tracker.sync_weeks(tracker.SyncOptions(trigger=TRIGGER, since=current), week_starts=[current])
    assert SyncRun.objects.count() == 0


def test_every_error_a_door_meets_is_a_tracker_error():
    """One family: a door catches TrackerError, and each error also means what Django expects."""
    from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist

    for error in (
        tracker.InvalidSyncRequest,
        tracker.UnknownWeek,
        tracker.InvalidPageview,
        tracker.NotConfigured,
        tracker.ConnectionTestFailed,
        tracker.RecordingUnavailable,
        tracker.SyncInProgress,
        tracker.SyncFailed,
        tracker.SyncNotConfigured,
        tracker.WipeoutRefused,
        tracker.LockLost,
    ):
        assert issubclass(error, tracker.TrackerError), error
    assert issubclass(tracker.InvalidSyncRequest, ValueError)
    assert issubclass(tracker.UnknownWeek, ObjectDoesNotExist)
    assert issubclass(tracker.SyncNotConfigured, tracker.SyncFailed)
    assert issubclass(tracker.SyncNotConfigured, ImproperlyConfigured)


def test_since_before_2000_is_refused_without_asking_posthog(posthog_stub, settings):
    settings.VISITORSYNC_WEEK_START = "sunday"
    with pytest.raises(tracker.InvalidSyncRequest, match="before 2000-01-01"):
        tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER, since=dt.date(1, 1, 1)))
    assert posthog_stub.query_count == 0
    assert SyncRun.objects.count() == 0


def test_selected_weeks_far_apart_skip_the_chunks_between(posthog_stub, settings):
    settings.VISITORSYNC_CHUNK_WEEKS = 4
    current = weeks.current_week_start()
    run = tracker.sync_weeks(
        tracker.SyncOptions(trigger=TRIGGER), week_starts=[current - dt.timedelta(weeks=20), current]
    )
    assert run.queries == 2
    assert WeeklyMetric.objects.count() == 2


def test_sync_selected_weeks_and_by_id(posthog_stub, settings):
    current = weeks.current_week_start()
    metric = WeeklyMetric.objects.create(week_start=current - dt.timedelta(weeks=5))
    run = tracker.sync_metric_by_id(tracker.SyncOptions(trigger=TRIGGER), metric_id=metric.pk)
    assert run.weeks_checked == 1
    metric.refresh_from_db()
    assert (metric.visitors, metric.pageviews) == truth(posthog_stub, settings).get(metric.week_start, (0, 0))
    with pytest.raises(tracker.UnknownWeek, match=f"No stored week has id {10**9}"):
        tracker.sync_metric_by_id(tracker.SyncOptions(trigger=TRIGGER), metric_id=10**9)
    with pytest.raises(ValueError, match="not a week start"):
        tracker.sync_weeks(tracker.SyncOptions(trigger=TRIGGER), week_starts=[current + dt.timedelta(days=1)])


def test_status_counts_runs_and_weeks(posthog_stub, no_sleep, django_assert_num_queries):
    tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))
    posthog_stub.fail_next(404)
    with pytest.raises(tracker.SyncFailed):
        tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))
    tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER, dry_run=True))
    with django_assert_num_queries(5):
        status = tracker.get_sync_status()
    assert status.posthog_configured
    assert (status.success_count, status.failure_count) == (1, 1)
    assert status.last_run.dry_run
    assert status.last_success.status == SyncRun.Status.SUCCEEDED and not status.last_success.dry_run
    assert status.weeks_stored == 12
    assert status.newest_week == weeks.current_week_start()
    assert status.running is None
    assert not status.stale


def test_status_is_stale_without_a_recent_success(settings):
    settings.VISITORSYNC_CRON_SCHEDULE = "0 */6 * * *"
    assert tracker.get_sync_status().stale  # never synced
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=13)
    SyncRun.objects.create(
        trigger=TRIGGER, status=SyncRun.Status.SUCCEEDED, started_at=long_ago, finished_at=long_ago
    )
    status = tracker.get_sync_status()
    assert status.stale and status.stale_after == dt.timedelta(hours=12)
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(hours=11)
    SyncRun.objects.create(
        trigger=TRIGGER, status=SyncRun.Status.SUCCEEDED, started_at=recent, finished_at=recent
    )
    assert not tracker.get_sync_status().stale


def test_status_names_missing_settings(settings):
    settings.POSTHOG_API_KEY = ""
    settings.POSTHOG_PROJECT_ID = ""
    status = tracker.get_sync_status()
    assert not status.posthog_configured
    assert status.missing_settings == ["POSTHOG_PROJECT_ID", "POSTHOG_API_KEY"]


@responses.activate
def test_long_ranges_are_split_into_queries_that_tile_the_range(settings):
    settings.VISITORSYNC_CHUNK_WEEKS = 52
    responses.post(QUERY_URL, json={"results": [], "hasMore": False})
    first = weeks.current_week_start() - dt.timedelta(weeks=259)
    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER, since=first))
    assert run.queries == len(responses.calls) == 5
    bodies = [query_bounds(call.request.body) for call in responses.calls]
    assert bodies[0]["start"] == weeks.week_bounds(first)[0].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert bodies[-1]["end"] == weeks.week_bounds(weeks.current_week_start())[1].strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    # The ranges tile the weeks with no gap and no overlap.
    for before, after in itertools.pairwise(bodies):
        assert before["end"] == after["start"]
    assert WeeklyMetric.objects.count() == 260


@responses.activate
def test_failure_in_a_later_range_fails_the_whole_sync_and_stores_nothing(settings, no_sleep):
    settings.VISITORSYNC_CHUNK_WEEKS = 2
    current = weeks.current_week_start()
    responses.post(
        QUERY_URL,
        json={"results": [[(current - dt.timedelta(weeks=3)).isoformat(), 5, 9]], "hasMore": False},
    )
    responses.post(QUERY_URL, json={"detail": "nope"}, status=403)
    with pytest.raises(tracker.SyncFailed, match="rejected the API key") as caught:
        tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER, since=current - dt.timedelta(weeks=3)))
    assert len(responses.calls) == 2
    assert caught.value.run.status == SyncRun.Status.FAILED and caught.value.run.queries == 2
    assert WeeklyMetric.objects.count() == 0


def test_chunk_ranges_cover_every_week_once():
    first = monday(2025, 1, 6)
    last = first + dt.timedelta(weeks=9)
    ranges = tracker.chunk_ranges(first, last, size=4)
    assert ranges == [
        (first, first + dt.timedelta(weeks=3)),
        (first + dt.timedelta(weeks=4), first + dt.timedelta(weeks=7)),
        (first + dt.timedelta(weeks=8), last),
    ]
    assert tracker.chunk_ranges(first, first, size=52) == [(first, first)]


@pytest.mark.parametrize("ancient", [dt.date(1, 1, 1), dt.date(1990, 1, 1)])
def test_a_stored_week_older_than_posthog_data_neither_crashes_nor_widens_the_sync(posthog_stub, ancient):
    """Issue 10, finding 8: a week from year 1 made every full sync crash (OverflowError), and
    one from 1990 cost 38 queries and created 1,927 empty weeks."""
    WeeklyMetric.objects.create(week_start=ancient, visitors=3, pageviews=4)
    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.queries == 1 and run.weeks_checked == 12
    assert run.first_week == weeks.current_week_start() - dt.timedelta(weeks=11)
    kept = WeeklyMetric.objects.get(week_start=ancient)
    assert (kept.visitors, kept.pageviews, kept.synced_at) == (3, 4, None)
    assert WeeklyMetric.objects.count() == 13


def test_a_week_posthog_only_confirms_is_unchanged_not_updated(posthog_stub):
    # Issue 20 #9: the webhook had already counted what PostHog now reports (never synced, or
    # synced before those events): the stored numbers do not move, so nothing was "updated".
    tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))
    week = weeks.current_week_start() - dt.timedelta(weeks=1)
    row = WeeklyMetric.objects.get(week_start=week)
    WeeklyMetric.objects.filter(pk=row.pk).update(posthog_visitors=None, posthog_pageviews=None)
    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))
    assert (run.weeks_created, run.weeks_updated, run.weeks_unchanged) == (0, 0, 12)
    assert run.changes == []
    row.refresh_from_db()  # PostHog's numbers are still recorded as confirmed
    assert (row.posthog_visitors, row.posthog_pageviews) == (row.visitors, row.pageviews)


def test_changes_rank_real_moves_first_and_new_empty_weeks_last():
    # Issue 20 #10: ten "new: 0" weeks hid the one real update.
    base = weeks.current_week_start()
    empty_new = [tracker.WeekChange(base - dt.timedelta(weeks=n), None, 0, None, 0) for n in range(2, 12)]
    real = tracker.WeekChange(base - dt.timedelta(weeks=1), 40, 40, 100, 103)  # pageviews only
    created = tracker.WeekChange(base, None, 5, None, 9)
    run = SyncRun(changes=[c.as_json() for c in [*empty_new, real, created]])
    ranked = tracker.run_changes(run)
    assert ranked[:2] == [created, real]
    assert all(c.created and c.visitors_after == 0 for c in ranked[2:])
