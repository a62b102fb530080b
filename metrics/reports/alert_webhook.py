"""The alert webhook: one POST of `{"text": ...}` (Slack, Mattermost, Discord's /slack URL).

One attempt with explicit timeouts and no retries: it runs inside a sync or a report, and a
failed message is retried at the next check instead (metrics.reports.alerts).
"""

from urllib.parse import urlsplit

import requests
from django.conf import settings

from metrics.core.errors import WebhookNotSent

CONNECT_TIMEOUT = 5.0


def webhook_configured() -> bool:
    return bool(settings.VISITORSYNC_ALERT_WEBHOOK_URL)


def webhook_display() -> str:
    """The URL's scheme and host only: an incoming webhook's path (and any user info) is its secret."""
    url = settings.VISITORSYNC_ALERT_WEBHOOK_URL
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}/…"


def post_text(text: str) -> None:
    """POST the message; raises WebhookNotSent with a message that never shows the URL's path."""
    url = settings.VISITORSYNC_ALERT_WEBHOOK_URL
    timeout = settings.VISITORSYNC_ALERT_WEBHOOK_TIMEOUT
    where = webhook_display()
    try:
        response = requests.post(
            url,
            json={"text": text},
            timeout=(min(CONNECT_TIMEOUT, timeout), timeout),
            allow_redirects=False,
        )
    except requests.Timeout:
        raise WebhookNotSent(
            f"The alert webhook at {where} did not answer within {timeout:g} s "
            "(VISITORSYNC_ALERT_WEBHOOK_TIMEOUT); it is tried again at the next check."
        ) from None
    except requests.RequestException as err:
        raise WebhookNotSent(
            f"Could not reach the alert webhook at {where} ({type(err).__name__}); check "
            "VISITORSYNC_ALERT_WEBHOOK_URL. It is tried again at the next check."
        ) from None
    if not 200 <= response.status_code < 300:
        raise WebhookNotSent(
            f"The alert webhook at {where} answered {response.status_code}; check that "
            "VISITORSYNC_ALERT_WEBHOOK_URL is a live incoming-webhook URL. It is tried again at the "
            "next check."
        )
