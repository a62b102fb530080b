"""GET /api/stats/weekly: the stored weeks for spreadsheets and BI tools, JSON or CSV."""

import datetime as dt
import logging
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date

from metrics import numbers
from metrics.core import weeks
from metrics.models import WeeklyMetric
from tests.support.helpers import CRON_SECRET
from tests.support.stats_api import TOKEN, URL, get, read_csv, seed_weeks

OLD_TOKEN = "stats-token-rotated-out-987654321"


@pytest.fixture
def tokens(settings):
    settings.VISITORSYNC_API_TOKENS = f"{TOKEN}, {OLD_TOKEN}"
    settings.CRON_SECRET = CRON_SECRET
    settings.DEBUG = False
    return settings


def test_the_url_is_named():
    assert reverse("weekly_stats") == URL


@pytest.mark.django_db
def test_csv_of_160_synced_weeks_is_exactly_what_is_stored(client, tokens):
    seed_weeks(160)
    response = get(client, "format=csv")
    assert response.status_code == HTTPStatus.OK
    body = response.content.decode("utf-8")
    assert body.startswith(",".join(numbers.COLUMNS) + "\r\n")  # RFC 4180: CRLF line ends
    rows = read_csv(response)
    stored = list(WeeklyMetric.objects.order_by("week_start"))
    assert len(rows) == 160
    current = weeks.current_week_start()
    for row, metric in zip(rows, stored, strict=True):
        assert row["week_start"] == metric.week_start.isoformat()
        assert row["week_end"] == (metric.week_start + dt.timedelta(days=6)).isoformat()
        assert int(row["visitors"]) == metric.visitors
        assert int(row["pageviews"]) == metric.pageviews
        assert row["synced_at"] == metric.synced_at.isoformat()
        assert row["in_progress"] == ("true" if metric.week_start == current else "false")
        assert row["confirmed"] == ("false" if metric.week_start == current else "true")
        before = WeeklyMetric.objects.filter(week_start=metric.week_start - weeks.ONE_WEEK).first()
        if before is None:
            assert row["visitors_change"] == ""
        else:
            assert float(row["visitors_change"]) == pytest.approx(
                (metric.visitors - before.visitors) / before.visitors
            )
        year_ago = WeeklyMetric.objects.filter(week_start=metric.week_start - dt.timedelta(weeks=52)).first()
        assert row["visitors_last_year"] == (str(year_ago.visitors) if year_ago else "")
    assert "attachment" in response["Content-Disposition"]


@pytest.mark.django_db
def test_from_and_to_give_exactly_the_weeks_asked_for_each_snapped_to_its_week(client, tokens):
    seed_weeks(160)
    current = weeks.current_week_start()
    first, last = current - weeks.ONE_WEEK * 100, current - weeks.ONE_WEEK * 40
    # Mid-week dates: each snaps to the start of the week it falls in.
    response = get(client, f"from={first + dt.timedelta(days=3)}&to={last + dt.timedelta(days=6)}")
    assert response.status_code == HTTPStatus.OK
    document = response.json()
    assert document["from"] == first.isoformat() and document["to"] == last.isoformat()
    got = [week["week_start"] for week in document["weeks"]]
    assert got == [week.isoformat() for week in weeks.week_range(first, last)]
    assert len(got) == 61
    # The first week asked for still has its change and last year's week, read from outside the range.
    oldest = document["weeks"][0]
    assert oldest["visitors_change"] is not None and oldest["visitors_last_year"] is not None
    assert set(oldest) == {*numbers.COLUMNS, "metrics"}


@pytest.mark.django_db
def test_json_marks_the_current_week_in_progress_and_nulls_what_is_unknown(client, tokens):
    seed_weeks(3)
    document = get(client).json()
    assert document["ok"] is True
    newest, oldest = document["weeks"][-1], document["weeks"][0]
    assert newest["week_start"] == weeks.current_week_start().isoformat() == document["current_week"]
    assert newest["in_progress"] is True and newest["confirmed"] is False
    assert oldest["visitors_change"] is None and oldest["visitors_last_year"] is None
    assert [w["in_progress"] for w in document["weeks"]] == [False, False, True]


@pytest.mark.django_db
def test_a_week_synced_before_it_ended_is_not_confirmed(client, tokens):
    week = weeks.current_week_start() - weeks.ONE_WEEK
    start, _ = weeks.week_bounds(week)
    WeeklyMetric.objects.create(
        week_start=week, visitors=5, pageviews=9, synced_at=start + dt.timedelta(days=2)
    )
    WeeklyMetric.objects.create(week_start=week - weeks.ONE_WEEK, visitors=4, pageviews=8)
    rows = get(client).json()["weeks"]
    assert [(r["confirmed"], r["synced_at"]) for r in rows] == [
        (False, None),
        (False, (start + dt.timedelta(days=2)).isoformat()),
    ]
    assert rows[1]["visitors_change"] == 0.25


@pytest.mark.parametrize("count", [10, 160])
@pytest.mark.django_db
def test_query_count_does_not_grow_with_the_range(client, tokens, django_assert_num_queries, count):
    seed_weeks(count)
    # the weeks asked for, the weeks around them, the metric definitions
    with django_assert_num_queries(3):
        assert len(get(client, "format=csv").content.splitlines()) == count + 1
    with django_assert_num_queries(3):
        assert len(get(client).json()["weeks"]) == count


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer stats-token-0123456789abcdef012X"},  # wrong, same length
        {"Authorization": f"Bearer {CRON_SECRET}"},  # the cron secret starts syncs, reads nothing
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer tökén"},
    ],
    ids=["none", "wrong", "cron-secret", "basic", "non-ascii"],
)
def test_refused_without_the_right_token_and_nothing_leaks(client, tokens, headers, caplog):
    seed_weeks(3)
    with caplog.at_level(logging.DEBUG):
        response = client.get(URL, headers=headers)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {"ok": False, "error": response.json()["error"]}
    assert "VISITORSYNC_API_TOKENS" in response.json()["error"]
    assert response["WWW-Authenticate"].startswith("Bearer")
    text = response.content.decode() + caplog.text
    for secret in (TOKEN, OLD_TOKEN, CRON_SECRET, "1000", "4000"):
        assert secret not in text
    assert "ETag" not in response


@pytest.mark.django_db
def test_rotation_both_tokens_work_and_a_rotated_out_token_is_refused(client, tokens):
    seed_weeks(2)
    assert get(client, token=OLD_TOKEN).status_code == HTTPStatus.OK
    tokens.VISITORSYNC_API_TOKENS = TOKEN
    response = get(client, token=OLD_TOKEN)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert OLD_TOKEN not in response.content.decode()
    assert get(client).status_code == HTTPStatus.OK


@pytest.mark.django_db
@pytest.mark.parametrize("configured", ["", " , ,"])
def test_no_token_configured_answers_503_naming_the_setting(client, tokens, configured):
    tokens.VISITORSYNC_API_TOKENS = configured
    tokens.DEBUG = True  # still closed: there is no anonymous read
    response = get(client)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["ok"] is False
    assert response.json()["error"].startswith("VISITORSYNC_API_TOKENS is not set")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("from=2025-13-01", "from='2025-13-01' is not a date"),
        ("to=yesterday", "to='yesterday' is not a date"),
        ("from=1999-12-31", "from=1999-12-31 is before 2000-01-01"),
        ("from=2025-03-10&to=2025-03-01", "from=2025-03-10 is after to=2025-03-01"),
        ("format=xlsx", "format='xlsx' is not a format"),
        ("format=csv&format=json", "format is given 2 times"),
        ("since=2025-01-01", "Unknown parameter(s): since. Accepted: from, to, format."),
        ("token=abc", "Unknown parameter(s): token."),
        ("from=&to=", "from is empty; give a value or leave the parameter out."),
        ("format=", "format is empty"),
    ],
)
def test_bad_parameters_get_400_naming_the_parameter(client, tokens, query, named):
    response = get(client, query)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["ok"] is False
    assert named in response.json()["error"]


@pytest.mark.django_db
def test_only_get_is_served(client, tokens):
    response = client.post(URL, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Allow"] == "GET"


@pytest.mark.django_db
def test_etag_and_last_modified_give_304_until_a_number_changes(client, tokens):
    seed_weeks(5)
    # Last changed a while ago: Last-Modified is only sent once the second of the change is over.
    WeeklyMetric.objects.update(updated_at=timezone.now() - dt.timedelta(seconds=5))
    first = get(client, "format=csv")
    etag, last_modified = first["ETag"], first["Last-Modified"]
    assert etag.startswith('"') and last_modified
    assert "Authorization" in first["Vary"] and "no-cache" in first["Cache-Control"]

    again = get(client, "format=csv", **{"If-None-Match": etag})
    assert again.status_code == HTTPStatus.NOT_MODIFIED and again.content == b""
    assert (
        get(client, "format=csv", **{"If-Modified-Since": last_modified}).status_code
        == HTTPStatus.NOT_MODIFIED
    )
    # The JSON of the same weeks is another representation, with its own tag.
    assert get(client, **{"If-None-Match": etag}).status_code == HTTPStatus.OK

    week = WeeklyMetric.objects.order_by("week_start").first()
    WeeklyMetric.objects.filter(pk=week.pk).update(
        visitors=week.visitors + 1, updated_at=timezone.now() + dt.timedelta(seconds=2)
    )
    changed = get(client, "format=csv", **{"If-None-Match": etag})
    assert changed.status_code == HTTPStatus.OK and changed["ETag"] != etag
    assert get(client, "format=csv", **{"If-Modified-Since": last_modified}).status_code == HTTPStatus.OK


class Clock:
    """`timezone.now()` for the code and the test alike, moved by hand (within one second)."""

    def __init__(self, start: dt.datetime) -> None:
        self.start = self.moment = start

    def __call__(self) -> dt.datetime:
        return self.moment

    def at(self, seconds: float) -> dt.datetime:
        self.moment = self.start + dt.timedelta(seconds=seconds)
        return self.moment


@pytest.mark.django_db
def test_a_change_in_the_same_second_as_the_last_is_never_answered_304(client, tokens, monkeypatch):
    # A whole second in the recent past, so the current week is the real one.
    start = dt.datetime.fromtimestamp(int(timezone.now().timestamp()) - 100, tz=dt.UTC)
    clock = Clock(start)
    monkeypatch.setattr(timezone, "now", clock)
    seed_weeks(2)
    week = weeks.current_week_start()

    def change(pageviews: int, *, at: float) -> None:
        WeeklyMetric.objects.filter(week_start=week).update(pageviews=pageviews, updated_at=clock.at(at))

    def pageviews(response) -> int:
        return next(row for row in response.json()["weeks"] if row["week_start"] == week.isoformat())[
            "pageviews"
        ]

    def since(response) -> dict[str, str]:
        # What a client that revalidates by date only sends: the first answer's Last-Modified.
        return (
            {"If-Modified-Since": response["Last-Modified"]} if response.has_header("Last-Modified") else {}
        )

    change(19, at=0.2)
    clock.at(0.5)
    first = get(client)
    assert pageviews(first) == 19
    change(20, at=0.7)  # the same second as the change the first answer showed
    clock.at(0.9)
    second = get(client, **since(first))
    assert second.status_code == HTTPStatus.OK and pageviews(second) == 20

    # Once that second is over the date is sent, rounded up, and revalidates...
    clock.at(1.3)
    third = get(client)
    assert third["Last-Modified"] == http_date(start.timestamp() + 1)
    assert get(client, **since(third)).status_code == HTTPStatus.NOT_MODIFIED
    # ...until the next change, even one in the very next instant.
    change(21, at=1.6)
    fourth = get(client, **since(third))
    assert fourth.status_code == HTTPStatus.OK and pageviews(fourth) == 21
