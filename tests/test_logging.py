"""Logging: what a sync writes to the log, and that no secret ever reaches it."""

import logging
import secrets

import pytest
import requests
import responses

from metrics import tracker
from metrics.models import SyncRun
from tests.support.checks import settings_errors
from tests.support.environment import read_setting
from tests.support.helpers import QUERY_URL

pytestmark = pytest.mark.django_db

TRIGGER = SyncRun.Trigger.CRON


def echo_request(status: int):
    """A server that answers `status` and echoes the credentials back, as some proxies do."""

    def callback(request):
        return status, {}, f"Bad request. Authorization: {request.headers['Authorization']}"

    return callback


def everything_logged(caplog) -> str:
    parts = []
    for record in caplog.records:
        parts += [record.getMessage(), repr(record.args), record.exc_text or ""]
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param([echo_request(401)], id="auth-error-echoing-headers"),
        pytest.param([echo_request(400)], id="query-rejected-echoing-headers"),
        pytest.param([echo_request(503)] * 4, id="retries-then-unavailable-echoing-headers"),
        pytest.param([requests.ConnectionError("connection refused")] * 4, id="unreachable"),
    ],
)
@responses.activate
def test_failing_sync_never_logs_the_api_key(settings, caplog, no_sleep, answers):
    key = "phx_" + secrets.token_urlsafe(30)
    settings.POSTHOG_API_KEY = key
    for answer in answers:
        if callable(answer):
            responses.add_callback(responses.POST, QUERY_URL, callback=answer)
        else:
            responses.post(QUERY_URL, body=answer)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(tracker.SyncFailed) as caught:
        tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))

    assert caplog.records, "the failure was not logged at all"
    assert any(r.levelno >= logging.WARNING and r.name.startswith("metrics") for r in caplog.records)
    assert key not in everything_logged(caplog)
    # The message is also stored on the run (shown in the admin) and printed by commands.
    assert key not in str(caught.value)
    assert key not in SyncRun.objects.get().error
    # The requests did carry the key, so the test would notice an echo reaching the log.
    assert all(call.request.headers["Authorization"] == f"Bearer {key}" for call in responses.calls)


def test_sync_logs_one_info_line_with_run_trigger_counts_and_duration(posthog_stub, settings, caplog):
    settings.VISITORSYNC_BACKFILL_WEEKS = 3
    caplog.set_level(logging.INFO, logger="metrics")

    run = tracker.sync_all_metrics(tracker.SyncOptions(trigger=TRIGGER))

    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("metrics.tracker") and r.levelno == logging.INFO
    ]
    assert len(lines) == 1
    line = lines[0]
    assert f"run={run.pk}" in line and "trigger=cron" in line
    assert "weeks=3 created=3 updated=0 unchanged=0 queries=1" in line
    assert "duration=" in line
    assert posthog_stub.api_key not in line


def test_log_levels_come_from_the_environment():
    result = read_setting(
        "LOGGING['loggers']",
        SECRET_KEY="x" * 50,
        VISITORSYNC_LOG_LEVEL="debug",
        DJANGO_LOG_LEVEL="warning",
    )
    assert result.returncode == 0, result.stderr
    assert "'metrics': {'level': 'DEBUG'}" in result.stdout
    assert "'django': {'level': 'WARNING'}" in result.stdout


def test_an_unknown_log_level_is_an_error_with_the_choices(settings):
    settings.VISITORSYNC_LOG_LEVEL = "LOUD"
    settings.DJANGO_LOG_LEVEL = "WARN"
    assert settings_errors() == [
        (
            "metrics.E012",
            "DJANGO_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'WARN'.",
        ),
        (
            "metrics.E012",
            "VISITORSYNC_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'LOUD'.",
        ),
    ]


def test_an_unknown_log_level_still_lets_django_start_for_the_check_to_report_it():
    """Django's logging setup would fail on it before any check could say which setting is wrong."""
    result = read_setting("LOGGING['loggers']", SECRET_KEY="x" * 50, VISITORSYNC_LOG_LEVEL="loud")
    assert result.returncode == 0, result.stderr
    assert "'metrics': {'level': 'INFO'}" in result.stdout


def test_loggable_escapes_control_characters_and_keeps_the_rest():
    from metrics.core.logsafe import loggable

    escaped = "a\\nb\\r\\tc\\x1b[31m\\x00\\x7f\\x85\\u2028\\\\"
    assert loggable("a\nb\r\tc\x1b[31m\x00\x7f\x85\u2028\\") == escaped
    assert loggable("Grüße, 東京 (10.1.2.3)") == "Grüße, 東京 (10.1.2.3)"
    assert loggable(None) == "None"
