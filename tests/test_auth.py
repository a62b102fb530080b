import pytest
from django.test import RequestFactory

from metrics.core.secrets import bearer_token, parse_secrets, secret_matches


def test_parse_secrets_splits_and_strips():
    assert parse_secrets(" one, two ,,") == (b"one", b"two")
    assert parse_secrets("") == ()
    assert parse_secrets(None) == ()
    assert parse_secrets(["a", " "]) == (b"a",)


@pytest.mark.parametrize(
    ("presented", "expected"),
    [
        ("current-secret", True),
        ("previous-secret", True),  # rotation: the old one still works until removed
        ("current-secreX", False),  # same length, wrong
        ("", False),
        (None, False),
        ("currént-secret", False),  # non-ASCII is a mismatch, not an error
    ],
)
def test_secret_matches(presented, expected):
    secrets = parse_secrets("current-secret,previous-secret")
    assert secret_matches(presented, secrets) is expected


def test_no_configured_secret_matches_nothing():
    assert secret_matches("anything", ()) is False


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None), ("", None)],
)
def test_bearer_token(header, token):
    request = RequestFactory().get("/", HTTP_AUTHORIZATION=header)
    assert bearer_token(request) == token
