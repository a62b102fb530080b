"""What PostHog's answers mean: which are worth a retry, which say the range is too heavy,
and the error (in words) that each unsuccessful one becomes. No HTTP is sent here."""

import re
import urllib.parse
from typing import Any

import requests

from metrics.core import errors
from metrics.posthog.config import PostHogConfig

# 503 "Queries are a little too busy right now" and 429 are overload, gone in a while. A query
# that is too heavy for its range (512 estimated too slow, 504 execution time, 513 memory) is
# not retried: the tracker asks for a smaller range instead. 513 "under heavy load" is the
# cluster's memory pressure, not the query's, and a 504 that is not PostHog's own JSON error
# comes from a proxy or load balancer: both are retried (PostHog's posthog/errors.py).
RETRY_STATUSES = frozenset({429, 500, 502, 503})
TOO_HEAVY_STATUSES = frozenset({504, 512, 513})


def error_for(response: requests.Response, *, config: PostHogConfig) -> errors.PostHogError:
    """The error an unsuccessful answer means, in words a user can act on; the API key is
    cut out of everything PostHog's answer contributes."""
    status = response.status_code
    detail = _detail(response, secret=config.api_key)
    host, project = config.host, config.project_id
    if status in (401, 403):
        return errors.PostHogAuthError(
            f"PostHog rejected the API key ({status}: {detail}). Use a personal API key "
            "(phx_...) with the 'Query Read' scope that has access to project "
            f"{project}, and check it has not been revoked."
        )
    if status == 404:
        return errors.PostHogNotFound(
            f"PostHog has no project {project} at {host} (404). Check POSTHOG_PROJECT_ID "
            "(the number in your PostHog URL) and POSTHOG_HOST (US or EU cloud)."
        )
    if status == 429:
        return errors.PostHogRateLimited(
            f"PostHog is rate limiting queries for this project ({detail}). The limit is "
            "shared by your whole team; try again in a few minutes."
        )
    if 300 <= status < 400:
        where = _redirect_target(response.headers.get("Location"), secret=config.api_key)
        return errors.PostHogBadResponse(
            f"PostHog answered a redirect ({status}) to {where}. "
            "Set POSTHOG_HOST to the final address (https, no path)."
        )
    if status == 400:
        return errors.PostHogQueryRejected(
            f"PostHog rejected the query (400: {detail}). This is likely a visitorsync bug "
            "or an unsupported PostHog version; please report it."
        )
    if _too_heavy(response):
        return errors.PostHogQueryTooHeavy(
            f"PostHog will not run this query for the range asked ({status}: {detail})."
        )
    if status >= 500:
        return errors.PostHogUnavailable(
            f"PostHog failed with {status} ({detail}). It is usually temporary; try "
            "again later and check https://status.posthog.com."
        )
    return errors.PostHogBadResponse(f"PostHog answered {status} ({detail}).")


def _cluster_overloaded(response: requests.Response) -> bool:
    """A 513 about the cluster's memory ("We're under heavy load right now"), not the query's."""
    return response.status_code == 513 and "heavy load" in (response.text or "").lower()


def _posthog_error_body(response: requests.Response) -> bool:
    """True if the answer is PostHog's own JSON error ({"type", "code", "detail", ...})."""
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "detail" in body


def _too_heavy(response: requests.Response) -> bool:
    status = response.status_code
    if status not in TOO_HEAVY_STATUSES or _cluster_overloaded(response):
        return False
    return status != 504 or _posthog_error_body(response)


def retryable(response: requests.Response) -> bool:
    return response.status_code in RETRY_STATUSES or (
        response.status_code in TOO_HEAVY_STATUSES and not _too_heavy(response)
    )


def json_object(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as err:
        raise errors.PostHogBadResponse(
            "PostHog answered with something that is not JSON. Check that POSTHOG_HOST is "
            "PostHog's app host (https://us.posthog.com), not a proxy or the ingestion host."
        ) from err
    if not isinstance(body, dict):
        raise errors.PostHogBadResponse("PostHog's answer is not a JSON object; nothing was stored.")
    return body


def _detail(response: requests.Response, *, secret: str) -> str:
    """A short excerpt of an error answer, for messages that are logged and stored.

    A proxy or debugging endpoint may echo the request back, so the API key is cut out
    (before shortening, which could otherwise leave half of it).
    """
    try:
        body = response.json()
    except ValueError:
        text = (response.text or response.reason or "").strip()
    else:
        text = str(body.get("detail") or body.get("code") or body) if isinstance(body, dict) else str(body)
    return _redact(text, secret=secret)[:200]


def _redirect_target(location: str | None, *, secret: str) -> str:
    """Where a redirect points, as scheme, host and path only, for messages that are logged and stored.

    A redirect may carry credentials in its query string, fragment or userinfo (a server can
    put the Authorization it received there), so those parts are never shown, and the API key
    is cut out of the rest, also where it is percent-encoded.
    """
    if not location:
        return "an address it did not give"
    try:
        parts = urllib.parse.urlsplit(location)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return "an address that is not a URL"
    if ":" in host:  # IPv6
        host = f"[{host}]"
    if port is not None:
        host = f"{host}:{port}"
    path = parts.path
    for _ in range(5):  # undo repeated percent-encoding, which could otherwise hide the key
        decoded = urllib.parse.unquote(path)
        if decoded == path:
            break
        path = decoded
    shown = (f"{parts.scheme}://{host}" if host else "") + path
    shown = "".join(char if char.isprintable() else "?" for char in shown)
    return _redact(shown, secret=secret)[:200]


def _redact(text: str, *, secret: str) -> str:
    # Case-insensitively: a host name in a URL may have been lowercased.
    if not secret:
        return text
    return re.sub(re.escape(secret), "[POSTHOG_API_KEY]", text, flags=re.IGNORECASE)
