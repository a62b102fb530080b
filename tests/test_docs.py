"""The guides in docs/ stay in step with the code they describe."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TROUBLESHOOTING = (ROOT / "docs" / "troubleshooting.md").read_text()

# (source file, the fixed start of a message it can show): each must be explained in
# docs/troubleshooting.md. When a message changes, this fails until the guide follows.
MESSAGES = [
    ("metrics/posthog.py", "PostHog is not configured: "),
    ("metrics/posthog.py", "POSTHOG_HOST is empty: "),
    ("metrics/posthog.py", "POSTHOG_PROJECT_ID is not set: "),
    ("metrics/posthog.py", "must be a number, not "),
    ("metrics/posthog.py", "POSTHOG_API_KEY is not set: "),
    ("metrics/posthog.py", "POSTHOG_API_KEY is a project API key (phc_...)"),
    ("metrics/posthog.py", "is an ingestion host, "),
    ("metrics/posthog.py", "PostHog rejected the API key ("),
    ("metrics/posthog.py", "PostHog has no project "),
    ("metrics/posthog.py", "PostHog is rate limiting queries for this project ("),
    ("metrics/posthog.py", "PostHog answered a redirect ("),
    ("metrics/posthog.py", "PostHog rejected the query (400: "),
    ("metrics/posthog.py", "PostHog failed with "),
    ("metrics/posthog.py", "PostHog answered "),
    ("metrics/posthog.py", "Could not reach PostHog at "),
    ("metrics/posthog.py", "PostHog answered with something that is not JSON. "),
    ("metrics/posthog.py", "PostHog's answer is not a JSON object; nothing was stored."),
    ("metrics/posthog.py", "PostHog's answer has no 'results' list; nothing was stored."),
    ("metrics/posthog.py", "PostHog returned a truncated answer (hasMore) for weeks "),
    ("metrics/posthog.py", "Lower VISITORSYNC_CHUNK_WEEKS."),
    ("metrics/posthog.py", "which is not a week start between "),
    ("metrics/posthog.py", "PostHog returned a malformed row "),
    ("metrics/posthog.py", "PostHog returned impossible numbers for week "),
    ("metrics/tracker.py", "has been running "),
    ("metrics/tracker.py", "Another sync just finished; try again."),
    ("metrics/tracker.py", "Abandoned: no progress for "),
    ("metrics/tracker.py", "Refusing to set "),
    ("metrics/tracker.py", "Internal error: "),
    ("metrics/tracker.py", "is in the future"),
    ("metrics/management/commands/sync_visitors.py", "is not a date; use YYYY-MM-DD."),
    ("metrics/management/commands/sync_visitors.py", "No stored week has id "),
    ("visitorsync/settings.py", "SECRET_KEY is not set. Set it to a long random string, "),
    ("visitorsync/settings.py", "VISITORSYNC_WEEK_START must be 'monday' or 'sunday', not "),
    ("visitorsync/settings.py", "is not an IANA time zone name "),
    ("visitorsync/settings.py", "VISITORSYNC_BACKFILL_WEEKS must be at least 1 and VISITORSYNC_CHUNK_WEEKS"),
    ("visitorsync/settings.py", "SECURE_PROXY_SSL_HEADER must be '<header>,<value>' "),
    ("visitorsync/settings.py", " must be one of "),
    ("gunicorn.conf.py", " must be a whole number, not "),
    ("scripts/serve", "DATABASE_URL is not set. "),
]


@pytest.mark.parametrize(("source", "message"), MESSAGES, ids=[m for _, m in MESSAGES])
def test_every_error_message_is_explained_in_troubleshooting(source, message):
    assert message in (ROOT / source).read_text(), f"{source} no longer says {message!r}"
    assert message.strip() in TROUBLESHOOTING, f"docs/troubleshooting.md does not explain {message!r}"


@pytest.mark.parametrize(
    "name", ["deploying", "scaling", "connecting-posthog", "scheduling", "troubleshooting"]
)
def test_readme_links_each_guide_and_it_exists(name):
    assert f"(docs/{name}.md)" in (ROOT / "README.md").read_text()
    assert (ROOT / "docs" / f"{name}.md").is_file()


def test_guides_link_only_to_guides_that_exist():
    for guide in (ROOT / "docs").glob("*.md"):
        for target in re.findall(r"\]\(([\w-]+\.md)[)#]", guide.read_text()):
            assert (ROOT / "docs" / target).is_file(), f"{guide.name} links to missing {target}"
