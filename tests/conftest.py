import pytest

from tests.support.background import BACKEND, BackgroundSyncs, RecordingThreadBackend, join_all
from tests.support.helpers import CRON_SECRET, WEBHOOK_SECRET
from tests.support.posthog_stub import PostHogStub, generate_events

# The browser tests' `browser_page` fixture.
pytest_plugins = ["tests.support.browser"]


@pytest.fixture(autouse=True)
def fresh_metric_definitions():
    """The webhook keeps the metric definitions for a few seconds (metrics/tracker/metric_matches.py);
    a test's rolled-back rows must not outlive it there."""
    from metrics.tracker import metric_matches

    metric_matches.drop_cache()
    yield
    metric_matches.drop_cache()


@pytest.fixture
def no_sleep(monkeypatch):
    """Record the client's retry waits instead of sleeping; the client's clock advances by them."""
    waits: list[float] = []
    monkeypatch.setattr("metrics.posthog.client.sleep_for", waits.append)
    monkeypatch.setattr("metrics.posthog.client.monotonic_now", lambda: 1000.0 + sum(waits))
    return waits


@pytest.fixture
def background_syncs(settings):
    """Syncs started in the background run in threads of ThreadBackend, as in production, and
    `background_syncs.wait_until_finished(run_id)` waits for one (tests/support/background.py)."""
    settings.TASKS = {"default": {"BACKEND": BACKEND}}
    RecordingThreadBackend.forget()
    yield BackgroundSyncs()
    # No thread of this test may outlive it: its database is flushed next.
    still_running = join_all(RecordingThreadBackend.threads(), timeout=30)
    RecordingThreadBackend.forget()
    assert not still_running, f"background threads still running after the test: {still_running}"


@pytest.fixture
def endpoint_secrets(settings):
    """Production-like secrets on the HTTP endpoints (tests.support.helpers names them), DEBUG off."""
    settings.CRON_SECRET = CRON_SECRET
    settings.POSTHOG_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.DEBUG = False


@pytest.fixture
def stub_events():
    return generate_events(weeks=30, seed=7, gap_weeks=(3, 4))


@pytest.fixture
def posthog_stub(settings, stub_events):
    """The loopback PostHog stub, with settings pointing the client at it."""
    with PostHogStub(events=stub_events, timezone=settings.VISITORSYNC_TIMEZONE) as stub:
        settings.POSTHOG_HOST = stub.url
        settings.POSTHOG_PROJECT_ID = stub.project_id
        settings.POSTHOG_API_KEY = stub.api_key
        yield stub


@pytest.fixture
def stub_with(settings):
    """Start a loopback PostHog stub holding the events given (`stub_with(events, **options)`),
    with settings pointing the client at the last one started; all are stopped after the test."""
    stubs = []

    def start(events, **options) -> PostHogStub:
        stub = PostHogStub(events=events, timezone=settings.VISITORSYNC_TIMEZONE, **options).start()
        stubs.append(stub)
        settings.POSTHOG_HOST, settings.POSTHOG_PROJECT_ID = stub.url, stub.project_id
        settings.POSTHOG_API_KEY = stub.api_key
        return stub

    yield start
    for stub in stubs:
        stub.stop()


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on 127.0.0.1 that Django's SMTP backend sends to."""
    from tests.support.mailserver import SMTPServer

    with SMTPServer() as server:
        settings.EMAIL_CONFIGURED = True
        settings.EMAIL_BACKEND = "metrics.reports.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 5.0
        settings.DEFAULT_FROM_EMAIL = "visitorsync <reports@example.test>"
        yield server


@pytest.fixture
def alert_hook(settings):
    """A loopback incoming-webhook receiver, configured as VISITORSYNC_ALERT_WEBHOOK_URL."""
    from tests.support.hookserver import HookServer

    with HookServer() as server:
        settings.VISITORSYNC_ALERT_WEBHOOK_URL = server.url
        settings.VISITORSYNC_ALERT_WEBHOOK_TIMEOUT = 1.0
        yield server
