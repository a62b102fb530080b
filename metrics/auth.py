"""Shared-secret checks for the webhook and cron endpoints.

Secrets are compared as bytes in constant time, several may be configured at once
(comma-separated) so one can be rotated without downtime, and a header that is not ASCII
is simply a wrong secret: never an exception, never a 500.
"""

import hmac
from collections.abc import Sequence

from django.http import HttpRequest


def parse_secrets(value: str | Sequence[str] | None) -> tuple[bytes, ...]:
    """The configured secrets, from a comma-separated setting (or a list); blanks dropped."""
    if not value:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    return tuple(item.strip().encode() for item in items if item and item.strip())


def secret_matches(presented: str | None, secrets: Sequence[bytes]) -> bool:
    """True if `presented` equals one of `secrets`, without leaking which or how close.

    Every configured secret is compared (no early exit), so the time taken does not tell an
    attacker which secret matched either.
    """
    if not presented or not secrets:
        return False
    try:
        candidate = presented.encode("ascii")
    except UnicodeEncodeError:
        return False
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(candidate, secret)
    return matched


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
