"""The secrets of the webhook, cron and stats endpoints: what is configured, and how they compare.

This module is the one definition of "this secret is configured and usable"
(`cron_secrets()`, `api_tokens()`, `WebhookConfig`), used by the endpoints, `/api/sync`, the admin page and
the system checks, and of "this secret is strong enough" (`is_weak`, with every role's values in
`configured_secrets()`, for the deploy checks). Secrets are compared as bytes in constant time, several may be
configured at once (comma-separated) so one can be rotated without downtime, and a header
that is not ASCII is simply a wrong secret: never an exception, never a 500.
"""

import base64
import binascii
import dataclasses
import enum
import functools
import hmac
from collections.abc import Sequence

from django.conf import settings
from django.http import HttpRequest

SECRET_SETTINGS = "POSTHOG_WEBHOOK_SECRET or POSTHOG_WEBHOOK_SIGNING_SECRET"  # noqa: S105 (names)

# The strength rule, in the spirit of Django's for SECRET_KEY (security.W009: 50 characters,
# 5 different ones). A bearer secret is never typed by a person, so ask for what a generator
# gives: `secrets.token_urlsafe(32)` is 43 characters, `openssl rand -hex 16` is 32, a UUID 36,
# each with far more than 8 different characters; "a", "password" or 40 times "c" fail.
SHORTEST_STRONG_SECRET = 32
FEWEST_DIFFERENT_CHARACTERS = 8


class Role(enum.StrEnum):
    """What a secret opens, said as what whoever holds it can do."""

    WEBHOOK = "add pageviews through the webhook (PostHog's destination holds it too)"
    CRON = "start syncs through the cron endpoint"
    STATS = "read the numbers through the stats API"
    DJANGO = "sign Django's sessions and password-reset links (forge an admin login)"


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


def is_weak(secret: bytes) -> bool:
    """True if `secret` is shorter than SHORTEST_STRONG_SECRET characters or has fewer than
    FEWEST_DIFFERENT_CHARACTERS different ones: typed by hand rather than generated."""
    return len(secret) < SHORTEST_STRONG_SECRET or len(set(secret)) < FEWEST_DIFFERENT_CHARACTERS


@dataclasses.dataclass(frozen=True)
class ConfiguredSecret:
    """One configured value: `label` names its setting (and its place, when the setting holds
    several), never the value; `chosen` means a person picks it, rather than PostHog or Django."""

    label: str
    role: Role
    chosen: bool
    value: bytes = dataclasses.field(repr=False)


def configured_secrets() -> list[ConfiguredSecret]:
    """Every secret configured for any role: the endpoints' and Django's SECRET_KEY (and fallbacks)."""
    found = []
    for name, role, chosen in (
        ("POSTHOG_WEBHOOK_SECRET", Role.WEBHOOK, True),
        ("POSTHOG_WEBHOOK_SIGNING_SECRET", Role.WEBHOOK, False),  # PostHog generates it
        ("CRON_SECRET", Role.CRON, True),
        ("VISITORSYNC_API_TOKENS", Role.STATS, True),
        ("SECRET_KEY", Role.DJANGO, False),  # Django's own security.W009 judges its strength
        ("SECRET_KEY_FALLBACKS", Role.DJANGO, False),
    ):
        setting = getattr(settings, name, None)
        # SECRET_KEY is one value, commas and all; the others are comma-separated lists.
        values = parse_secrets([setting] if name == "SECRET_KEY" else setting)
        for position, value in enumerate(values, start=1):
            label = f"{name} (secret #{position})" if len(values) > 1 else name
            found.append(ConfiguredSecret(label=label, role=role, chosen=chosen, value=value))
    return found


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
        # Read for every delivery: parsed once per pair of values (the instance is immutable),
        # so a changed setting (tests' override_settings) still takes effect at once.
        secret, signing_secret = settings.POSTHOG_WEBHOOK_SECRET, settings.POSTHOG_WEBHOOK_SIGNING_SECRET
        try:
            return _webhook_config(secret, signing_secret)
        except TypeError:  # a list (allowed, as parse_secrets says) is not hashable: no cache
            return cls.parse(secret, signing_secret)

    @classmethod
    def parse(cls, secret: str | None, signing_secret: str | None) -> "WebhookConfig":
        """The configuration these two settings' values describe."""
        keys, problems = [], []
        for position, item in enumerate(parse_secrets(signing_secret), start=1):
            key = _signing_key(item)
            if key is None:
                problems.append(
                    f"POSTHOG_WEBHOOK_SIGNING_SECRET (secret #{position}) is not a Standard Webhooks "
                    "secret: copy the whole 'whsec_...' value from the PostHog destination."
                )
            else:
                keys.append(key)
        return cls(
            secrets=parse_secrets(secret),
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


@functools.lru_cache(maxsize=8)
def _webhook_config(secret: str | None, signing_secret: str | None) -> WebhookConfig:
    return WebhookConfig.parse(secret, signing_secret)


def _signing_key(secret: bytes) -> bytes | None:
    """The HMAC key of a `whsec_<base64>` secret (the prefix is optional), None if malformed."""
    text = secret.decode()
    text = text.removeprefix("whsec_")
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return key or None
