"""What counts (metrics/core/counting.py): several events, a host filter, the test-account flag.

The webhook path is tested here through its HTTP door; the sync path, against the PostHog
stand-in, in tests/test_counting_sync.py. Both read the same settings the same way.
"""

from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from metrics.core import counting, weeks
from metrics.models import WeeklyMetric
from tests.support.webhook_payloads import pageview, post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("endpoint_secrets")]


def this_week() -> tuple[int, int]:
    metric = WeeklyMetric.objects.filter(week_start=weeks.current_week_start()).first()
    return (metric.visitors, metric.pageviews) if metric else (0, 0)


# --- Reading the settings ---------------------------------------------------------------------
def test_several_events_are_read_in_order_without_blanks_or_repeats(settings):
    settings.VISITORSYNC_EVENT = " $pageview , $screen,$pageview "
    assert counting.event_names() == ("$pageview", "$screen")
    assert counting.counts_event("$screen") and not counting.counts_event("$autocapture")


@pytest.mark.parametrize(
    ("pattern", "host", "counts"),
    [
        ("example.com", "example.com", True),
        ("example.com", "EXAMPLE.com", True),
        ("Example.COM", "example.com", True),
        ("example.com", "staging.example.com", False),
        ("example.com", "example.com.evil.net", False),
        ("*.example.com", "staging.example.com", True),
        ("*.example.com", "a.b.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "notexample.com", False),
        ("localhost:8000", "localhost:8000", True),
        ("localhost:8000", "localhost", False),
        ("example.com", None, True),  # no $host: mobile events count whatever the filter
        ("", "anything.test", True),  # no filter: every host
    ],
)
def test_host_patterns(settings, pattern, host, counts):
    settings.VISITORSYNC_HOSTS = pattern
    assert counting.counts_host(host) is counts


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("VISITORSYNC_EVENT", "$pageview,,$screen", "has an empty event name"),
        ("VISITORSYNC_EVENT", "page'view", "is not an event name visitorsync can ask PostHog for"),
        ("VISITORSYNC_EVENT", "{filters}", "is not an event name visitorsync can ask PostHog for"),
        ("VISITORSYNC_HOSTS", "https://example.com", "is not a host name"),
        ("VISITORSYNC_HOSTS", "example.com/blog", "is not a host name"),
        ("VISITORSYNC_HOSTS", "example.com,,", "has an empty host"),
        ("VISITORSYNC_FILTER_TEST_ACCOUNTS", "sometimes", "is not a yes/no value"),
    ],
)
def test_bad_settings_are_a_check_error_naming_the_fix(settings, name, value, message):
    setattr(settings, name, value)
    assert any(message in problem for problem in counting.problems())
    with pytest.raises(SystemCheckError, match=r"metrics\.E004"):
        call_command("check")


def test_good_settings_pass_the_check(settings, capsys):
    settings.VISITORSYNC_EVENT = "$pageview,$screen"
    settings.VISITORSYNC_HOSTS = "example.com, *.example.com, localhost:8000"
    settings.VISITORSYNC_FILTER_TEST_ACCOUNTS = "yes"
    assert counting.problems() == []
    assert counting.filter_test_accounts() is True
    call_command("check")
    assert "metrics.E004" not in capsys.readouterr().err


# --- The webhook counts what the sync counts --------------------------------------------------
def test_the_webhook_counts_every_listed_event_and_a_visitor_once_a_week(client, settings):
    settings.VISITORSYNC_EVENT = "$pageview,$screen"
    for event in ("$pageview", "$screen", "$screen"):
        answer = post(client, pageview(event=event, visitor="person-1"))
        assert answer.json()["status"] == "counted"
    ignored = post(client, pageview(event="$autocapture", visitor="person-2"))
    assert ignored.json()["status"] == "ignored" and "'$pageview', '$screen'" in ignored.json()["detail"]
    assert this_week() == (1, 3)


def test_the_webhook_ignores_other_hosts_and_counts_events_without_one(client, settings):
    settings.VISITORSYNC_HOSTS = "example.com"
    for host, status in (
        ("example.com", "counted"),
        ("EXAMPLE.COM", "counted"),
        ("staging.example.com", "ignored"),
        ("localhost:8000", "ignored"),
        (None, "counted"),
    ):
        answer = post(client, pageview(host=host, visitor=f"person-{host}"))
        assert answer.status_code == HTTPStatus.OK
        assert answer.json()["status"] == status, (host, answer.json())
    ignored = post(client, pageview(host="staging.example.com"))
    assert "VISITORSYNC_HOSTS" in ignored.json()["detail"]
    assert this_week() == (3, 3)


def test_the_health_document_lists_what_counts(client, settings):
    settings.VISITORSYNC_EVENT = "$pageview,$screen"
    settings.VISITORSYNC_HOSTS = "example.com,*.example.com"
    document = client.get("/api/webhooks/posthog").json()
    assert document["events"] == ["$pageview", "$screen"]
    assert document["hosts"] == ["example.com", "*.example.com"]
