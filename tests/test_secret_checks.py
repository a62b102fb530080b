"""`check --deploy` on the secrets themselves: a guessable one (metrics.W007) and one value
in two roles (metrics.W008). Neither message ever shows the value."""

import secrets

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from tests.support.checks import deploy_messages

WEAK = "metrics.W007"
REUSED = "metrics.W008"
SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # as PostHog generates one
ENDPOINT_SETTINGS = ("POSTHOG_WEBHOOK_SECRET", "CRON_SECRET", "VISITORSYNC_API_TOKENS")


def strong() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture(autouse=True)
def strong_distinct_secrets(settings):
    """Every role configured with its own generated value, so each test changes one thing."""
    for name in ENDPOINT_SETTINGS:
        setattr(settings, name, strong())
    settings.POSTHOG_WEBHOOK_SIGNING_SECRET = SIGNING_SECRET
    settings.SECRET_KEY = secrets.token_urlsafe(50)
    settings.SECRET_KEY_FALLBACKS = [secrets.token_urlsafe(50)]
    return settings


def test_strong_distinct_secrets_raise_neither_warning():
    assert deploy_messages(WEAK) == []
    assert deploy_messages(REUSED) == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        # The values of the issue: `check --deploy` passed them all.
        ("CRON_SECRET", "a"),
        ("VISITORSYNC_API_TOKENS", "a"),
        ("POSTHOG_WEBHOOK_SECRET", "b"),
        # Long but one character over and over, and a generated value one character short.
        ("CRON_SECRET", "c" * 40),
        ("VISITORSYNC_API_TOKENS", "abcdefg" * 6),
        ("POSTHOG_WEBHOOK_SECRET", secrets.token_hex(16)[:31]),
    ],
)
def test_each_short_or_low_variety_secret_is_flagged_by_name(settings, name, value):
    setattr(settings, name, value)
    (message,) = deploy_messages(WEAK)
    assert message.startswith(f"{name} is shorter than 32 characters or has fewer than 8 different")
    assert "token_urlsafe(32)" in message  # the hint says how to make a good one


def test_a_weak_token_among_rotated_ones_is_named_by_its_place(settings):
    settings.VISITORSYNC_API_TOKENS = f"{strong()}, hunter2"
    (message,) = deploy_messages(WEAK)
    assert message.startswith("VISITORSYNC_API_TOKENS (secret #2) is shorter")


def test_the_weak_value_itself_is_never_shown(settings):
    weak = "Spring2025!"
    settings.CRON_SECRET = weak
    (message,) = deploy_messages(WEAK)
    assert weak not in message and "Spring" not in message


def test_generated_secrets_in_the_usual_forms_pass(settings):
    settings.CRON_SECRET = secrets.token_hex(16)  # 32 hex digits: `openssl rand -hex 16`
    settings.VISITORSYNC_API_TOKENS = "8f14e45f-ceea-4d67-a8b1-54a2b0d7c3e9"  # a UUID
    assert deploy_messages(WEAK) == []


def test_secrets_generated_elsewhere_are_left_to_their_own_checks(settings):
    # PostHog makes the signing secret (metrics.E003 checks its form) and Django's
    # security.W009 judges SECRET_KEY: W007 would only repeat them.
    settings.POSTHOG_WEBHOOK_SIGNING_SECRET = "whsec_YQ=="
    settings.SECRET_KEY = "short"
    assert deploy_messages(WEAK) == []


@pytest.mark.parametrize(
    ("first", "second", "can"),
    [
        ("POSTHOG_WEBHOOK_SECRET", "CRON_SECRET", "start syncs"),
        ("POSTHOG_WEBHOOK_SECRET", "VISITORSYNC_API_TOKENS", "read the numbers"),
        ("CRON_SECRET", "VISITORSYNC_API_TOKENS", "start syncs"),
        ("POSTHOG_WEBHOOK_SIGNING_SECRET", "CRON_SECRET", "add pageviews"),
        ("CRON_SECRET", "SECRET_KEY", "forge an admin login"),
        ("POSTHOG_WEBHOOK_SECRET", "SECRET_KEY", "forge an admin login"),
        ("VISITORSYNC_API_TOKENS", "SECRET_KEY", "forge an admin login"),
        ("VISITORSYNC_API_TOKENS", "SECRET_KEY_FALLBACKS", "forge an admin login"),
    ],
)
def test_one_value_in_two_roles_is_flagged_naming_both_settings(settings, first, second, can):
    shared = SIGNING_SECRET if first == "POSTHOG_WEBHOOK_SIGNING_SECRET" else strong()
    setattr(settings, first, shared)
    setattr(settings, second, [shared] if second == "SECRET_KEY_FALLBACKS" else shared)
    (message,) = deploy_messages(REUSED)
    assert message.startswith(f"{first} and {second} hold the same value, so whoever has it can ")
    assert can in message
    assert "Give each role its own generated value" in message
    assert shared not in message


def test_a_rotated_token_equal_to_the_cron_secret_is_named_by_its_place(settings):
    settings.VISITORSYNC_API_TOKENS = f"{strong()},{settings.CRON_SECRET}"
    (message,) = deploy_messages(REUSED)
    assert message.startswith("CRON_SECRET and VISITORSYNC_API_TOKENS (secret #2) hold the same value")


def test_one_value_in_three_roles_is_one_warning_naming_all_three(settings):
    shared = strong()
    settings.CRON_SECRET = settings.VISITORSYNC_API_TOKENS = settings.POSTHOG_WEBHOOK_SECRET = shared
    (message,) = deploy_messages(REUSED)
    assert message.startswith(
        "POSTHOG_WEBHOOK_SECRET, CRON_SECRET and VISITORSYNC_API_TOKENS hold the same value"
    )


def test_the_same_value_twice_in_one_role_is_not_reuse(settings):
    # A rotation list that repeats itself, and a webhook guarded by both of its secrets, open
    # one door each: nobody gains a second one.
    value = strong()
    settings.CRON_SECRET = f"{value},{value}"
    settings.POSTHOG_WEBHOOK_SECRET = SIGNING_SECRET
    assert deploy_messages(REUSED) == []


def test_deploy_check_fails_on_the_issues_settings_and_passes_without_them(settings):
    settings.CRON_SECRET = "a"
    settings.VISITORSYNC_API_TOKENS = "a"
    settings.POSTHOG_WEBHOOK_SECRET = "b"
    with pytest.raises(SystemCheckError) as caught:
        call_command("check", "--deploy", "--fail-level", "WARNING", "--tag", "security")
    assert WEAK in str(caught.value) and REUSED in str(caught.value)
    call_command("check", "--deploy")  # without --fail-level they are warnings, not errors
