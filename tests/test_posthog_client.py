"""The PostHog client against `responses` mocks: what it sends, retries and refuses."""

import datetime as dt
import json
import urllib.parse

import pytest
import requests
import responses
from responses import matchers

from metrics import posthog
from metrics.posthog import PostHogClient
from tests.support.helpers import QUERY_URL, monday, query_bounds

FIRST = monday(2025, 1, 6)


def rows_for(first: dt.date, count: int) -> list[list]:
    return [[(first + dt.timedelta(weeks=i)).isoformat(), 10 + i, 30 + i] for i in range(count)]


def ok(results, **extra) -> dict:
    return {"results": results, "hasMore": False, "columns": ["week", "visitors", "pageviews"], **extra}


@responses.activate
def test_request_names_mode_timezone_event_and_limit(settings):
    settings.VISITORSYNC_TIMEZONE = "America/New_York"
    settings.VISITORSYNC_WEEK_START = "sunday"
    settings.VISITORSYNC_EVENT = "$pageview"
    responses.post(
        QUERY_URL,
        json=ok([["2025-01-05", 3, 9]]),
        match=[
            matchers.header_matcher({"Authorization": "Bearer phx_testkey"}),
            matchers.json_params_matcher(
                {
                    "query": {
                        "kind": "HogQLQuery",
                        "query": (
                            "SELECT toStartOfWeek(toTimeZone(timestamp, 'America/New_York'), 0) AS week,\n"
                            "    count(DISTINCT person_id) AS visitors,\n"
                            "    count() AS pageviews\n"
                            "FROM events\n"
                            "WHERE event IN ('$pageview')\n"
                            "    AND timestamp >= toDateTime('2025-01-05T05:00:00Z')\n"
                            "    AND timestamp < toDateTime('2025-01-12T05:00:00Z')\n"
                            f"GROUP BY week ORDER BY week LIMIT {posthog.ROW_LIMIT}"
                        ),
                    },
                    "name": "visitorsync weekly counts 2025-01-05..2025-01-05",
                    "refresh": "force_blocking",
                }
            ),
        ],
    )
    counts = PostHogClient().weekly_counts(first_week=dt.date(2025, 1, 5), last_week=dt.date(2025, 1, 5))
    assert counts.for_week(dt.date(2025, 1, 5)) == posthog.WeekCount(dt.date(2025, 1, 5), 3, 9)
    sent = responses.calls[0].request
    query = json.loads(sent.body)["query"]["query"]
    assert "toStartOfWeek(toTimeZone(timestamp, 'America/New_York'), 0)" in query
    assert "count(DISTINCT person_id)" in query
    assert query.endswith(f"LIMIT {posthog.ROW_LIMIT}")
    assert sent.headers["User-Agent"].startswith("visitorsync/")


@responses.activate
def test_truncated_answer_is_refused():
    responses.post(QUERY_URL, json={"results": rows_for(FIRST, 2), "hasMore": True})
    with pytest.raises(posthog.PostHogBadResponse, match="truncated"):
        PostHogClient().weekly_counts(first_week=FIRST, last_week=FIRST + dt.timedelta(weeks=1))


@responses.activate
def test_one_call_is_one_query_for_the_whole_range():
    """The tracker decides the ranges; the client answers the range it is given in one query."""
    responses.post(QUERY_URL, json=ok([]))
    result = PostHogClient().weekly_counts(first_week=FIRST, last_week=FIRST + dt.timedelta(weeks=259))
    assert len(responses.calls) == 1
    assert result.counts == {}
    values = query_bounds(responses.calls[0].request.body)
    assert (values["start"], values["end"]) == ("2025-01-05T23:00:00Z", "2029-12-30T23:00:00Z")


@responses.activate
def test_a_full_page_of_rows_is_refused_even_without_has_more():
    """PostHog cuts a LIMITed answer silently (hasMore is only set for queries without one)."""
    last = FIRST + dt.timedelta(weeks=posthog.ROW_LIMIT + 99)
    responses.post(QUERY_URL, json=ok(rows_for(FIRST, posthog.ROW_LIMIT)))
    with pytest.raises(posthog.PostHogBadResponse, match="cut short"):
        PostHogClient().weekly_counts(first_week=FIRST, last_week=last)


@pytest.mark.parametrize(
    "value",
    ["Wed, 21 Oct 2015 07:28:00 -0000", "not a date", "Thu, 99 Foo 2015 07:28:00 GMT", "nan"],
)
@responses.activate
def test_unreadable_retry_after_falls_back_to_backoff(value, no_sleep):
    responses.post(QUERY_URL, json={"detail": "slow down"}, status=429, headers={"Retry-After": value})
    responses.post(QUERY_URL, json=ok([]))
    PostHogClient().weekly_counts(first_week=FIRST, last_week=FIRST)
    assert len(no_sleep) == 1
    assert 0 <= no_sleep[0] <= 60


@responses.activate
def test_datetime_week_values_are_accepted():
    responses.post(QUERY_URL, json=ok([["2025-01-06T00:00:00+01:00", 4, 8]]))
    counts = PostHogClient().weekly_counts(first_week=FIRST, last_week=FIRST)
    assert counts.for_week(FIRST).visitors == 4


@pytest.mark.parametrize(
    "results",
    [[["2025-01-07", 1, 1]], [["not a date", 1, 1]], [["2025-01-06", "x", 1]], [["2025-01-06", 5, 2]], [[1]]],
    ids=["not-a-week-start", "bad-date", "bad-number", "more-visitors-than-views", "short-row"],
)
@responses.activate
def test_malformed_rows_are_refused(results):
    responses.post(QUERY_URL, json=ok(results))
    with pytest.raises(posthog.PostHogBadResponse):
        PostHogClient().weekly_counts(first_week=FIRST, last_week=FIRST + dt.timedelta(weeks=1))


NOT_COUNTS = [5.9, 5.0, True, False, "5", None, -1, 2**63, [5], {"n": 5}]


@pytest.mark.parametrize("column", [1, 2], ids=["visitors", "pageviews"])
@pytest.mark.parametrize("value", NOT_COUNTS, ids=[repr(v) for v in NOT_COUNTS])
@responses.activate
def test_only_json_integers_are_accepted_as_counts(column, value):
    """A float is not truncated, a boolean is not 1, and a count must fit in 64 bits."""
    row = ["2025-01-06", 0, 2**62]
    row[column] = value
    responses.post(QUERY_URL, json=ok([row]))
    with pytest.raises(posthog.PostHogBadResponse, match="not a whole number") as caught:
        PostHogClient().weekly_counts(first_week=FIRST, last_week=FIRST)
    assert "2025-01-06" in str(caught.value) and "nothing was stored" in str(caught.value)


@responses.activate
def test_the_largest_64_bit_count_is_accepted():
    responses.post(QUERY_URL, json=ok([["2025-01-06", 2**63 - 1, 2**63 - 1]]))
    counts = PostHogClient().weekly_counts(first_week=FIRST, last_week=FIRST)
    assert counts.for_week(FIRST) == posthog.WeekCount(FIRST, 2**63 - 1, 2**63 - 1)


@responses.activate
def test_a_week_that_appears_twice_is_refused_naming_the_week():
    second = FIRST + dt.timedelta(weeks=1)
    rows = [[FIRST.isoformat(), 1, 2], [second.isoformat(), 3, 4], [second.isoformat(), 5, 6]]
    responses.post(QUERY_URL, json=ok(rows))
    with pytest.raises(posthog.PostHogBadResponse, match=f"week {second} twice"):
        PostHogClient().weekly_counts(first_week=FIRST, last_week=second)


@pytest.mark.parametrize(
    "week",
    [20250106, "2025-01-06 garbage", "2025-01-06T12:00:00", None],
    ids=["number", "trailing-text", "not-midnight", "null"],
)
@responses.activate
def test_a_week_that_is_not_a_date_string_is_refused(week):
    responses.post(QUERY_URL, json=ok([[week, 1, 2]]))
    with pytest.raises(posthog.PostHogBadResponse, match="malformed row"):
        PostHogClient().weekly_counts(first_week=FIRST, last_week=FIRST)


@responses.activate
def test_a_row_with_extra_columns_is_refused():
    responses.post(QUERY_URL, json=ok([["2025-01-06", 1, 2, 3]]))
    with pytest.raises(posthog.PostHogBadResponse, match="malformed row"):
        PostHogClient().weekly_counts(first_week=FIRST, last_week=FIRST)


@responses.activate
def test_non_json_answer_is_a_bad_response():
    responses.post(QUERY_URL, body="<html>proxy</html>", status=200)
    with pytest.raises(posthog.PostHogBadResponse, match="not JSON"):
        PostHogClient().weekly_counts(first_week=FIRST, last_week=FIRST)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"POSTHOG_API_KEY": ""}, "POSTHOG_API_KEY is not set"),
        ({"POSTHOG_PROJECT_ID": ""}, "POSTHOG_PROJECT_ID is not set"),
        ({"POSTHOG_PROJECT_ID": "abc"}, "must be a number"),
        ({"POSTHOG_API_KEY": "phc_projectkey"}, "project API key"),
        ({"POSTHOG_HOST": "https://us.i.posthog.com"}, "ingestion host"),
    ],
)
@responses.activate
def test_unusable_configuration_sends_nothing(overrides, message, settings):
    for name, value in overrides.items():
        setattr(settings, name, value)
    with pytest.raises(posthog.PostHogNotConfigured, match=message):
        PostHogClient().weekly_counts(first_week=FIRST, last_week=FIRST)
    assert len(responses.calls) == 0


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (401, posthog.PostHogAuthError, "Query Read"),
        (403, posthog.PostHogAuthError, "rejected the API key"),
        (404, posthog.PostHogNotFound, "POSTHOG_PROJECT_ID"),
        (400, posthog.PostHogQueryRejected, "rejected the query"),
        (302, posthog.PostHogBadResponse, "redirect"),
    ],
)
@responses.activate
def test_client_errors_are_not_retried(status, error, message, no_sleep):
    responses.post(QUERY_URL, json={"detail": "nope"}, status=status)
    with pytest.raises(error, match=message):
        PostHogClient().weekly_counts(first_week=FIRST, last_week=FIRST)
    assert len(responses.calls) == 1
    assert no_sleep == []


KEY = "phx_testkey"  # tests/support/settings.py


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        (f"https://evil.example/steal?Bearer%20{KEY}", "https://evil.example/steal"),
        (f"https://evil.example/steal?token={KEY}&x=1#frag", "https://evil.example/steal"),
        (f"https://evil.example/steal/{KEY}/now", "https://evil.example/steal/[POSTHOG_API_KEY]/now"),
        ("https://evil.example/steal/%70hx_testkey", "https://evil.example/steal/[POSTHOG_API_KEY]"),
        (f"https://{KEY}:secret@evil.example/login", "https://evil.example/login"),
        (f"https://user@{KEY}.evil.example/", "https://[POSTHOG_API_KEY].evil.example/"),
        (f"/api/projects/12345/query/?auth=Bearer+{KEY}", "/api/projects/12345/query/"),
    ],
    ids=["query", "query-and-fragment", "path", "percent-encoded-path", "userinfo", "host", "relative"],
)
@responses.activate
def test_a_redirect_never_shows_the_api_key(location, shown, no_sleep):
    """A redirect's Location is shown as scheme, host and path only, with the key cut out."""
    responses.post(QUERY_URL, status=302, headers={"Location": location})
    with pytest.raises(posthog.PostHogBadResponse, match="redirect") as caught:
        PostHogClient().weekly_counts(first_week=FIRST, last_week=FIRST)
    message = str(caught.value)
    assert KEY not in message and KEY not in urllib.parse.unquote(message)
    assert "secret" not in message and "frag" not in message
    assert f"(302) to {shown}." in message
    assert len(responses.calls) == 1  # never followed


@responses.activate
def test_server_error_is_retried_then_succeeds(no_sleep):
    responses.post(QUERY_URL, json={"detail": "boom"}, status=502)
    responses.post(QUERY_URL, json={"detail": "boom"}, status=503)
    responses.post(QUERY_URL, json=ok(rows_for(FIRST, 1)))
    posthog_client = PostHogClient()
    counts = posthog_client.weekly_counts(first_week=FIRST, last_week=FIRST)
    assert counts.for_week(FIRST).visitors == 10
    assert len(no_sleep) == 2
    assert all(0 <= wait <= 4 for wait in no_sleep)
    assert posthog_client.queries == 3  # every attempt spends the team's query budget


@responses.activate
def test_connection_errors_are_retried_then_reported(no_sleep, settings):
    settings.POSTHOG_MAX_ATTEMPTS = 3
    responses.post(QUERY_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(posthog.PostHogUnavailable, match="Could not reach PostHog"):
        PostHogClient().weekly_counts(first_week=FIRST, last_week=FIRST)
    assert len(responses.calls) == 3
    assert len(no_sleep) == 2


@responses.activate
def test_an_answer_cut_off_midway_is_retried_then_reported(no_sleep, settings):
    """A connection that breaks while the answer comes in is PostHog being unavailable, not a bug."""
    settings.POSTHOG_MAX_ATTEMPTS = 2
    responses.post(QUERY_URL, body=requests.exceptions.ChunkedEncodingError("Connection broken"))
    with pytest.raises(posthog.PostHogUnavailable, match="ChunkedEncodingError"):
        PostHogClient().weekly_counts(first_week=FIRST, last_week=FIRST)
    assert len(responses.calls) == 2


@responses.activate
def test_retry_after_is_honoured(no_sleep):
    throttled = {
        "type": "throttled_error",
        "code": "throttled",
        "detail": "Request was throttled. Expected available in 12 seconds.",
        "attr": None,
    }
    responses.post(QUERY_URL, json=throttled, status=429, headers={"Retry-After": "12"})
    responses.post(QUERY_URL, json=ok([]))
    PostHogClient().weekly_counts(first_week=FIRST, last_week=FIRST)
    assert no_sleep == [12.0]


@responses.activate
def test_retry_after_is_capped(no_sleep, settings):
    settings.POSTHOG_RETRY_AFTER_CAP, settings.POSTHOG_RETRY_DEADLINE = 30, 1000
    responses.post(QUERY_URL, json={"detail": "slow down"}, status=429, headers={"Retry-After": "21600"})
    responses.post(QUERY_URL, json=ok([]))
    PostHogClient().weekly_counts(first_week=FIRST, last_week=FIRST)
    assert no_sleep == [30.0]


@responses.activate
def test_rate_limit_that_outlasts_retries_is_reported(no_sleep, settings):
    settings.POSTHOG_MAX_ATTEMPTS = 4
    responses.post(
        QUERY_URL, json={"detail": "Request was throttled."}, status=429, headers={"Retry-After": "1"}
    )
    with pytest.raises(posthog.PostHogRateLimited, match="rate limiting"):
        PostHogClient().weekly_counts(first_week=FIRST, last_week=FIRST)
    assert len(responses.calls) == 4


@responses.activate
def test_deadline_stops_retries_early(no_sleep, settings):
    settings.POSTHOG_MAX_ATTEMPTS, settings.POSTHOG_RETRY_DEADLINE = 10, 60
    settings.POSTHOG_RETRY_AFTER_CAP = 60
    responses.post(QUERY_URL, json={"detail": "later"}, status=503, headers={"Retry-After": "50"})
    with pytest.raises(posthog.PostHogUnavailable, match="503"):
        PostHogClient().weekly_counts(first_week=FIRST, last_week=FIRST)
    # 50 s fits in the 60 s deadline once; a second wait would not.
    assert no_sleep == [50.0]
    assert len(responses.calls) == 2


@responses.activate
def test_connection_test_reports_project_timezone():
    responses.post(
        QUERY_URL,
        json={"results": [[1]], "hasMore": False, "timezone": "Europe/Paris"},
        match=[
            matchers.json_params_matcher(
                {"query": {"kind": "HogQLQuery", "query": "SELECT 1"}}, strict_match=False
            )
        ],
    )
    info = PostHogClient().test_connection()
    assert info.timezone == "Europe/Paris"
    assert info.project_id == "12345"
