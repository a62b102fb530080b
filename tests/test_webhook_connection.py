"""A delivery's connection: used without Django's health check right after it answered a
delivery, and replaced at once when it died meanwhile (PostgreSQL: a backend ended by the
server, as a restart or an idle timeout ends it)."""

import logging
import time
from http import HTTPStatus

import psycopg
import pytest
from django.db import connection

from metrics.core import weeks
from metrics.models import WebhookDelivery, WeeklyMetric
from metrics.tracker import delivery_connection
from tests.support.webhook_payloads import SECRET, pageview, post

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="ends a PostgreSQL backend"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.POSTHOG_WEBHOOK_SECRET = SECRET
    settings.POSTHOG_WEBHOOK_SIGNING_SECRET = ""
    settings.DEBUG = False


def end_backend_of_this_connection() -> None:
    """Terminate the server process behind this thread's connection, from another connection."""
    backend = connection.connection.info.backend_pid
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [backend]).fetchone() == (True,)
    # What Django does when a request starts: a reused connection gets its check again.
    connection.close_if_unusable_or_obsolete()


def pageviews_this_week() -> int:
    return WeeklyMetric.objects.get(week_start=weeks.current_week_start()).pageviews


def test_a_connection_that_died_right_after_answering_is_replaced_and_the_delivery_counted(client, caplog):
    first = pageview()
    assert post(client, first).json()["status"] == "counted"
    end_backend_of_this_connection()
    with caplog.at_level(logging.INFO, logger="metrics.tracker.pageviews"):
        response = post(client, pageview())
    # Used without the check (it answered a moment ago), it failed; a new one took over at once.
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["status"] == "counted"
    assert any("reconnecting after" in record.getMessage() for record in caplog.records)
    assert post(client, first).json()["status"] == "duplicate"
    assert (WebhookDelivery.objects.count(), pageviews_this_week()) == (2, 2)


def test_a_connection_idle_for_longer_is_checked_first(client, caplog):
    assert post(client, pageview()).json()["status"] == "counted"
    end_backend_of_this_connection()
    time.sleep(delivery_connection.RECENT_SECONDS + 0.1)  # no longer "a moment ago"
    with caplog.at_level(logging.INFO, logger="metrics.tracker.pageviews"):
        response = post(client, pageview())
    # Django's health check found it dead: the delivery went out on a new connection.
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["status"] == "counted"
    assert not any("reconnecting after" in record.getMessage() for record in caplog.records)
    assert pageviews_this_week() == 2
