"""The secrets of the webhook and cron endpoints: what is configured, and how they compare.

This module is the one definition of "this secret is configured and usable"
(`cron_secrets()`, `api_tokens()`, `WebhookConfig`), used by the endpoints, `/api/sync`, the admin page and
the system checks. Secrets are compared as bytes in constant time, several may be
configured at once (comma-separated) so one can be rotated without downtime, and a header
that is not ASCII is simply a wrong secret: never an exception, never a 500.
"""

import base64
import binascii
import dataclasses
import enum
import hmac
from collections.abc import Sequence

from django.conf import settings
from django.http import HttpRequest

SECRET_SETTINGS = "POSTHOG_WEBHOOK_SECRET or POSTHOG_WEBHOOK_SIGNING_SECRET"  # noqa: S105 (names)


class AuthMode(enum.StrEnum):
    NONE = "none"
    SHARED_SECRET = "shared_secret"  # noqa: S105 (a mode name)
    SIGNATURE = "signature"
    SIGNATURE_AND_SHARED_SECRET = "signature+shared_secret"  # noqa: S105


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


def cron_secrets() -> tuple[bytes, ...]:
    """The usable CRON_SECRET values; empty means the cron secret is not configured."""
    return parse_secrets(settings.CRON_SECRET)


def api_tokens() -> tuple[bytes, ...]:
    """The usable VISITORSYNC_API_TOKENS values (read-only stats API); empty means none configured.

    Deliberately separate from CRON_SECRET: a token that reads numbers cannot start a sync,
    and the cron secret cannot read numbers.
    """
    return parse_secrets(settings.VISITORSYNC_API_TOKENS)


@dataclasses.dataclass(frozen=True)
class WebhookConfig:
    """How webhook deliveries authenticate, read from POSTHOG_WEBHOOK_SECRET and
    POSTHOG_WEBHOOK_SIGNING_SECRET (both comma-separated, to rotate)."""

    secrets: tuple[bytes, ...]
    signing_keys: tuple[bytes, ...]
    problems: tuple[str, ...]  # settings that are set but unusable

    @classmethod
    def from_settings(cls) -> "WebhookConfig":
        keys, problems = [], []
        for position, item in enumerate(parse_secrets(settings.POSTHOG_WEBHOOK_SIGNING_SECRET), start=1):
            key = _signing_key(item)
            if key is None:
                problems.append(
                    f"POSTHOG_WEBHOOK_SIGNING_SECRET (secret #{position}) is not a Standard Webhooks "
                    "secret: copy the whole 'whsec_...' value from the PostHog destination."
                )
            else:
                keys.append(key)
        return cls(
            secrets=parse_secrets(settings.POSTHOG_WEBHOOK_SECRET),
            signing_keys=tuple(keys),
            problems=tuple(problems),
        )

    @property
    def mode(self) -> AuthMode:
        if self.signing_keys and self.secrets:
            return AuthMode.SIGNATURE_AND_SHARED_SECRET
        if self.signing_keys:
            return AuthMode.SIGNATURE
        if self.secrets:
            return AuthMode.SHARED_SECRET
        return AuthMode.NONE

    @property
    def usable(self) -> bool:
        """A secret is configured and nothing configured is malformed: deliveries can authenticate."""
        return self.mode is not AuthMode.NONE and not self.problems

    def refusal(self) -> str | None:
        """Why every delivery must be refused right now (503), or None."""
        if self.problems:
            return " ".join(self.problems)
        if self.mode is AuthMode.NONE and not settings.DEBUG:
            return (
                f"The webhook has no secret configured, so it accepts nothing. Set {SECRET_SETTINGS} "
                "(see docs/connecting-posthog.md)."
            )
        return None

    def warnings(self) -> list[str]:
        if self.mode is AuthMode.NONE and settings.DEBUG:
            return [
                f"No webhook secret is configured: anyone who can reach this URL can add pageviews. "
                f"Accepted only because DEBUG is on; set {SECRET_SETTINGS} before going live."
            ]
        return []


def _signing_key(secret: bytes) -> bytes | None:
    """The HMAC key of a `whsec_<base64>` secret (the prefix is optional), None if malformed."""
    text = secret.decode()
    text = text.removeprefix("whsec_")
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return key or None
