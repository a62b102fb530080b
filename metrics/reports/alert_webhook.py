"""The alert webhook: one POST of `{"text": ...}` (Slack, Mattermost, Discord's /slack URL).

One attempt and no retries, ended after VISITORSYNC_ALERT_WEBHOOK_TIMEOUT in all (a receiver
that drips its answer is hung up on, `metrics.core.attempt_deadline`); a failed message is
retried at the next check instead (metrics.reports.alerts). The text is escaped as Slack
documents, so a message quoting `<!channel>` or `<https://…|a link>` (a PostHog error can)
shows those characters instead of notifying a channel or hiding a link.
"""

from urllib.parse import urlsplit

import requests
from django.conf import settings

from metrics.core.attempt_deadline import AttemptDeadline, DeadlineAdapter
from metrics.core.errors import WebhookNotSent

CONNECT_TIMEOUT = 5.0
# Slack's control characters (https://api.slack.com/reference/surfaces/formatting#escaping),
# & first so the entities it adds are not escaped again.
SLACK_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))


def webhook_configured() -> bool:
    return bool(settings.VISITORSYNC_ALERT_WEBHOOK_URL)


def webhook_display() -> str:
    """The URL's scheme and host only: an incoming webhook's path (and any user info) is its secret."""
    url = settings.VISITORSYNC_ALERT_WEBHOOK_URL
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}/…"


def slack_escape(text: str) -> str:
    for character, entity in SLACK_ESCAPES:
        text = text.replace(character, entity)
    return text


def post_text(text: str) -> None:
    """POST the message (escaped) within VISITORSYNC_ALERT_WEBHOOK_TIMEOUT in all; raises
    WebhookNotSent with a message that never shows the URL's path."""
    url = settings.VISITORSYNC_ALERT_WEBHOOK_URL
    timeout = settings.VISITORSYNC_ALERT_WEBHOOK_TIMEOUT
    where = webhook_display()
    too_slow = WebhookNotSent(
        f"The alert webhook at {where} did not answer within {timeout:g} s "
        "(VISITORSYNC_ALERT_WEBHOOK_TIMEOUT, the most one post may take); it is tried again at the "
        "next check."
    )
    deadline = AttemptDeadline(timeout)
    try:
        with requests.Session() as session, deadline:
            for prefix in ("https://", "http://"):
                session.mount(prefix, DeadlineAdapter())
            response = session.post(
                url,
                json={"text": slack_escape(text)},
                timeout=(min(CONNECT_TIMEOUT, timeout), timeout),
                allow_redirects=False,
            )
    except requests.RequestException as err:
        if deadline.expired or isinstance(err, requests.Timeout):
            raise too_slow from None
        raise WebhookNotSent(
            f"Could not reach the alert webhook at {where} ({type(err).__name__}); check "
            "VISITORSYNC_ALERT_WEBHOOK_URL. It is tried again at the next check."
        ) from None
    if deadline.expired:
        raise too_slow  # hung up on: an answer without a length looks whole when cut short
    if not 200 <= response.status_code < 300:
        raise WebhookNotSent(
            f"The alert webhook at {where} answered {response.status_code}; check that "
            "VISITORSYNC_ALERT_WEBHOOK_URL is a live incoming-webhook URL. It is tried again at the "
            "next check."
        )
