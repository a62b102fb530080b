"""The guides in docs/ stay in step with the code they describe."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TROUBLESHOOTING = (ROOT / "docs" / "troubleshooting.md").read_text()

# (source file, the fixed start of a message it can show): each must be explained in
# docs/troubleshooting.md. When a message changes, this fails until the guide follows.
MESSAGES = [
    ("metrics/posthog/client.py", "PostHog is not configured: "),
    ("metrics/posthog/config.py", "POSTHOG_HOST is empty: "),
    ("metrics/posthog/config.py", "POSTHOG_PROJECT_ID is not set: "),
    ("metrics/posthog/config.py", "must be a number, not "),
    ("metrics/posthog/config.py", "POSTHOG_API_KEY is not set: "),
    ("metrics/posthog/config.py", "POSTHOG_API_KEY is a project API key (phc_...)"),
    ("metrics/posthog/config.py", "is an ingestion host, "),
    ("metrics/posthog/answers.py", "PostHog rejected the API key ("),
    ("metrics/posthog/answers.py", "PostHog has no project "),
    ("metrics/posthog/answers.py", "PostHog is rate limiting queries for this project ("),
    ("metrics/posthog/answers.py", "PostHog answered a redirect ("),
    ("metrics/posthog/answers.py", "PostHog rejected the query (400: "),
    ("metrics/posthog/answers.py", "PostHog failed with "),
    ("metrics/posthog/client.py", "PostHog answered "),
    ("metrics/posthog/client.py", "Could not reach PostHog at "),
    ("metrics/posthog/client.py", "PostHog answered too slowly: its answer was not complete after "),
    ("metrics/posthog/config.py", "POSTHOG_QUERY_TIMEOUT must be a number of seconds above 0, not "),
    ("metrics/posthog/answers.py", "PostHog answered with something that is not JSON. "),
    ("metrics/posthog/answers.py", "PostHog's answer is not a JSON object; nothing was stored."),
    ("metrics/posthog/query.py", "PostHog's answer has no 'results' list; nothing was stored."),
    ("metrics/posthog/query.py", "PostHog returned a truncated answer (hasMore) for weeks "),
    ("metrics/posthog/query.py", "Lower VISITORSYNC_CHUNK_WEEKS."),
    ("metrics/posthog/query.py", "which is not a week start between "),
    ("metrics/posthog/query.py", "PostHog returned a malformed row "),
    ("metrics/posthog/query.py", "PostHog returned impossible numbers for week "),
    ("metrics/posthog/query.py", "PostHog returned a count that is not a whole number from 0 to "),
    ("metrics/posthog/query.py", " twice in one answer; nothing was stored."),
    ("metrics/tracker/lock.py", "has been running "),
    ("metrics/tracker/lock.py", "Another sync just finished; try again."),
    ("metrics/tracker/lock.py", "Abandoned: no progress for "),
    ("metrics/tracker/apply.py", "Refusing to set "),
    ("metrics/tracker/execution.py", "Internal error: "),
    ("metrics/tracker/sync.py", "is in the future"),
    ("metrics/tracker/sync.py", "PostHog holds no data that old. "),
    ("metrics/tracker/execution.py", "presumed dead and its lock released, so it wrote nothing."),
    ("metrics/tracker/execution.py", "before it finished; no number was changed."),
    ("metrics/tracker/sync.py", "since applies to a full sync, not to a list of weeks."),
    ("metrics/tracker/ranges.py", " is too heavy for PostHog to count, so the sync "),
    ("metrics/posthog/answers.py", "PostHog will not run this query for the range asked ("),
    ("metrics/tracker/pageviews.py", " (or without a $host) are counted (VISITORSYNC_HOSTS)."),
    ("metrics/core/counting.py", " has an empty event name: list event "),
    ("metrics/core/counting.py", " is not an event name visitorsync can ask PostHog for "),
    ("metrics/core/counting.py", " has an empty host: list host "),
    (
        "metrics/core/counting.py",
        " is not a host name. Give the host as PostHog's $host ",
    ),
    ("metrics/core/counting.py", "a yes/no value: use true or false."),
    ("metrics/tracker/execution.py", "The database failed during the sync ("),
    ("metrics/jobs/background.py", "Could not start the sync in the background ("),
    ("visitorsync/settings/derived.py", "VISITORSYNC_TASK_BACKEND must be 'thread' or 'database', not "),
    (
        "metrics/settings_checks.py",
        "VISITORSYNC_SYNC_ABANDON_AFTER must be a positive number of seconds (default 120), not ",
    ),
    ("metrics/tracker/execution.py", " Its failure could not be recorded either, so sync #"),
    ("metrics/checks.py", " is deprecated: rename it to "),
    ("metrics/posthog/destination/payload.py", " is not valid Unicode text."),
    ("metrics/checks.py", "a live sync whose heartbeat is delayed by a busy "),
    ("metrics/posthog/destination/payload.py", ": not a real pageview."),
    ("metrics/management/arguments.py", "is not a date; use YYYY-MM-DD."),
    ("metrics/tracker/sync.py", "No stored week has id "),
    ("visitorsync/settings/read.py", "SECRET_KEY is not set. Set it to a long random string, "),
    ("visitorsync/settings/read.py", "VISITORSYNC_DEMO is on but DEBUG is off: "),
    ("metrics/settings_checks.py", "VISITORSYNC_WEEK_START must be 'monday' or 'sunday', not "),
    ("metrics/settings_checks.py", "is not an IANA time zone name "),
    (
        "metrics/settings_checks.py",
        "VISITORSYNC_BACKFILL_WEEKS must be at least 1 and VISITORSYNC_CHUNK_WEEKS",
    ),
    ("metrics/settings_checks.py", "SECURE_PROXY_SSL_HEADER must be '<header>,<value>' "),
    ("metrics/settings_checks.py", " must be one of "),
    ("metrics/settings_checks.py", "VISITORSYNC_ALERT_DROP a share between 0 and 1"),
    ("metrics/settings_checks.py", "VISITORSYNC_WEBHOOK_MAX_BODY must be at least 1024 (bytes) and "),
    ("metrics/settings_checks.py", "VISITORSYNC_WEBHOOK_RETENTION_WEEKS at least 1."),
    ("visitorsync/settings/derived.py", "EMAIL_URL must start with smtp://, smtps:// "),
    ("metrics/reports/weekly.py", "has not ended yet; a report covers a complete week."),
    ("metrics/reports/weekly.py", "No numbers are stored for the week of "),
    ("metrics/reports/mail.py", "EMAIL_URL is not set, so no mail can be sent."),
    ("metrics/reports/mail.py", "VISITORSYNC_REPORT_RECIPIENTS is empty, so the weekly report goes to "),
    ("metrics/reports/mail.py", "The mail server did not take the report for the week of "),
    ("metrics/reports/alert_webhook.py", "did not answer within "),
    ("metrics/reports/alert_webhook.py", "Could not reach the alert webhook at "),
    ("metrics/reports/alert_webhook.py", "is a live incoming-webhook URL."),
    ("metrics/reports/smtp.py", " did not finish taking the message "),
    ("metrics/settings_checks.py", ", which is not an email address."),
    ("metrics/reports/alerts.py", "alert check after a sync failed; it runs again at the next sync"),
    ("metrics/reports/alerts.py", " not sent by "),
    ("metrics/reports/alerts.py", "No successful sync since "),
    ("metrics/reports/alerts.py", "No webhook delivery from PostHog since "),
    ("metrics/reports/alerts.py", "Visitors in the week of "),
    ("metrics/admin/reports_panel.py", "No alert channel is configured: "),
    ("metrics/admin/reports_panel.py", "The test report was not sent. "),
    ("metrics/jobs/crontab.py", "weekly report not sent: "),
    ("metrics/checks.py", " set but EMAIL_URL is not, so no report or alert mail is sent."),
    ("gunicorn.conf.py", " must be a whole number, not "),
    ("scripts/serve", "DATABASE_URL is not set. "),
    ("metrics/settings_checks.py", "Database timeouts are seconds: DATABASE_CONNECT_TIMEOUT at least 1, "),
    (
        "metrics/settings_checks.py",
        "DATABASE_STATEMENT_TIMEOUT and DATABASE_TCP_USER_TIMEOUT at least 0 (0: no limit), ",
    ),
    ("metrics/settings_checks.py", "VISITORSYNC_WEBHOOK_DB_TIMEOUT more than 0 (and below PostHog's 10 s), "),
    ("metrics/settings_checks.py", "VISITORSYNC_REQUEST_DB_TIMEOUT more than 0."),
    ("metrics/core/db_deadline.py", "database did not answer within "),
    ("metrics/core/db_deadline.py", "): closing the connection"),
    ("metrics/core/db_stall.py", "): requests that need it are answered 503 at once until it answers again"),
    ("metrics/core/db_stall.py", "database answers again after "),
    ("metrics/http/api_errors.py", "The database is unavailable right now; try again in a few seconds."),
    ("metrics/http/api_errors.py", " answered 503, the database failed: "),
    ("metrics/http/api_errors.py", "No such endpoint. The API's paths are listed at /api/openapi.json."),
    ("metrics/http/api_errors.py", "Bad request: the server could not accept it (check its Host header "),
    ("metrics/http/api_errors.py", "Internal error: the request failed on the server; its log says why."),
    ("metrics/http/api_errors.py", "The database is not answering; try again in a few "),
    ("metrics/tracker/pageviews.py", "no answer within "),
    # The webhook (metrics/posthog/destination/, metrics/http/posthog_webhook.py, tracker.record_pageview).
    ("metrics/core/secrets.py", "The webhook has no secret configured, so it accepts nothing. Set "),
    ("metrics/core/secrets.py", "is not a Standard Webhooks "),
    ("metrics/core/secrets.py", "secret: copy the whole 'whsec_...' value from the PostHog destination."),
    ("metrics/core/secrets.py", "No webhook secret is configured: anyone who can reach this URL can add "),
    (
        "metrics/posthog/destination/delivery.py",
        "Missing secret: send it as 'Authorization: Bearer <secret>' or ",
    ),
    ("metrics/posthog/destination/delivery.py", "Wrong secret: it does not match POSTHOG_WEBHOOK_SECRET."),
    (
        "metrics/posthog/destination/signature.py",
        "header(s): POSTHOG_WEBHOOK_SIGNING_SECRET is set, so every ",
    ),
    ("metrics/posthog/destination/signature.py", "webhook-timestamp must be a Unix time in seconds."),
    ("metrics/posthog/destination/signature.py", "s away from this server's "),
    (
        "metrics/posthog/destination/signature.py",
        "clock (at most 300 s allowed): a replayed delivery, or a clock that needs NTP.",
    ),
    ("metrics/posthog/destination/signature.py", "Invalid signature."),
    (
        "metrics/posthog/destination/signature.py",
        "Invalid signature: it does not match POSTHOG_WEBHOOK_SIGNING_SECRET (was the ",
    ),
    (
        "metrics/posthog/destination/body.py",
        " bytes (VISITORSYNC_WEBHOOK_MAX_BODY). A pageview is a few KiB: ",
    ),
    (
        "metrics/posthog/destination/body.py",
        "No Content-Length header, and this server does not tell the app where such a body ",
    ),
    ("metrics/posthog/destination/payload.py", "The body is not valid JSON ("),
    ("metrics/posthog/destination/payload.py", "The body must be a JSON object like "),
    (
        "metrics/posthog/destination/payload.py",
        "'event' must be an object: keep the destination's default body ",
    ),
    ("metrics/posthog/destination/payload.py", " characters."),
    ("metrics/posthog/destination/payload.py", "event.uuid must not contain NUL characters."),
    ("metrics/posthog/destination/payload.py", " is missing."),
    ("metrics/posthog/destination/payload.py", " must be a non-empty string."),
    ("metrics/posthog/destination/payload.py", " is not an ISO 8601 date and time "),
    ("metrics/posthog/destination/payload.py", " is out of range."),
    ("metrics/posthog/destination/payload.py", " is more than a day in the future."),
    (
        "metrics/posthog/destination/payload.py",
        "No visitor: person.id or event.distinct_id must be a non-empty string.",
    ),
    ("metrics/http/params.py", " not allowed: use "),
    (
        "metrics/http/posthog_webhook.py",
        "The database is unavailable right now; PostHog will retry this delivery.",
    ),
    ("metrics/http/posthog_webhook.py", "webhook refused from "),
    ("metrics/tracker/pageviews.py", "The database is unavailable right now; nothing was recorded "),
    ("metrics/tracker/pageviews.py", "The database failed to record the pageview; nothing was recorded "),
    ("metrics/tracker/pageviews.py", "(the log says why)."),
    ("metrics/tracker/pageviews.py", " events are counted (VISITORSYNC_EVENT and the metrics' events), "),
    (
        "metrics/posthog/destination/delivery.py",
        "The metric definitions could not be read from the database just now",
    ),
    ("metrics/tracker/pageviews.py", " are only counted by the scheduled sync "),
    ("metrics/tracker/pageviews.py", " not recorded: "),
    ("metrics/tracker/pageviews.py", "a counted event needs a visitor id"),
    # The cron and status endpoints (metrics/http/cron.py, metrics/jobs/crontab.py) and their checks.
    ("metrics/http/cron.py", "CRON_SECRET is not set, so the cron endpoint is disabled. "),
    ("metrics/http/cron.py", "Missing or wrong secret: send 'Authorization: Bearer <CRON_SECRET>'."),
    ("metrics/http/cron.py", " body is not read: send since, dry_run, "),
    ("metrics/http/params.py", "Unknown parameter(s): "),
    ("metrics/http/params.py", " times; give it once."),
    ("metrics/http/params.py", " is not a date; use YYYY-MM-DD."),
    ("metrics/tracker/sync.py", " is in the future; give a date in a past or the current week."),
    ("metrics/http/params.py", " is not a yes/no value; use 1 or 0."),
    ("metrics/http/cron.py", "cron endpoint: missing or wrong bearer secret from "),
    ("metrics/http/cron.py", "cron endpoint called without CRON_SECRET; allowed only because DEBUG is on"),
    ("metrics/jobs/crontab.py", "crontab sync skipped: "),
    # The stats API (metrics/http/stats_api.py).
    ("metrics/http/stats_api.py", "VISITORSYNC_API_TOKENS is not set, so the stats API is disabled. "),
    (
        "metrics/http/stats_api.py",
        "Missing or wrong token: send 'Authorization: Bearer <token>' with a token from ",
    ),
    ("metrics/http/stats_api.py", " is empty; give a value or leave the parameter out."),
    ("metrics/http/stats_api.py", "old is stored. Give a later date."),
    ("metrics/http/stats_api.py", "; swap them."),
    ("metrics/http/stats_api.py", " is not a format; use json or csv."),
    ("metrics/http/stats_api.py", "stats API: missing or wrong bearer token from "),
    ("metrics/checks.py", "CRON_SECRET is not set: /api/cron/sync-visitors refuses every request (503), "),
    ("metrics/checks.py", "No webhook secret: set "),
    ("metrics/checks.py", " characters or has fewer "),
    ("metrics/checks.py", " hold the same value, so whoever has "),
    ("metrics/checks.py", "VISITORSYNC_CRON_SCHEDULE: "),
    ("metrics/core/schedule.py", " is not a five-field cron expression"),
    ("metrics/core/schedule.py", " is out of range "),
    ("metrics/core/schedule.py", " is not a valid cron expression: "),
]


@pytest.mark.parametrize(("source", "message"), MESSAGES, ids=[m for _, m in MESSAGES])
def test_every_error_message_is_explained_in_troubleshooting(source, message):
    assert message in (ROOT / source).read_text(), f"{source} no longer says {message!r}"
    assert message.strip() in TROUBLESHOOTING, f"docs/troubleshooting.md does not explain {message!r}"


GUIDES = [
    "compare-with-posthog",
    "connecting-posthog",
    "configuration",
    "scheduling",
    "reports-and-alerts",
    "admin",
    "api",
    "deploying",
    "scaling",
    "troubleshooting",
    "performance",
    "development",
]
README = ROOT / "README.md"
DOCS = sorted([README, *(ROOT / "docs").glob("*.md")])


@pytest.mark.parametrize("name", GUIDES)
def test_readme_links_each_guide_and_it_exists(name):
    assert f"(docs/{name}.md)" in README.read_text()
    assert (ROOT / "docs" / f"{name}.md").is_file()


def test_every_guide_in_docs_is_linked_from_the_readme():
    assert sorted(path.stem for path in (ROOT / "docs").glob("*.md")) == sorted(GUIDES)


def test_guides_link_only_to_guides_that_exist():
    for guide in (ROOT / "docs").glob("*.md"):
        for target in re.findall(r"\]\(([\w-]+\.md)[)#]", guide.read_text()):
            assert (ROOT / "docs" / target).is_file(), f"{guide.name} links to missing {target}"


def test_readme_is_a_front_page_of_at_most_150_lines():
    lines = len(README.read_text().splitlines())
    assert lines <= 150, f"README.md has {lines} lines; move reference material to docs/"


def _without_code_blocks(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)


def _prose(text: str) -> str:
    """The text without code blocks and inline code, where `](` is not a link."""
    return re.sub(r"`[^`\n]*`", "", _without_code_blocks(text))


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", _without_code_blocks(path.read_text()), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in anchors:
            n += 1
            candidate = f"{slug}-{n}"
        anchors.add(candidate)
    return anchors


@pytest.mark.parametrize("page", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_every_relative_link_resolves(page):
    links = re.findall(r"\]\(<?([^)\s>]+)>?(?: \"[^\"]*\")?\)", _prose(page.read_text()))
    relative = [link for link in links if not re.match(r"[a-z][a-z0-9+.-]*:", link)]
    for link in relative:
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        assert path.is_file(), f"{page.name} links to {link}, which does not exist"
        if anchor and path.suffix == ".md":
            assert anchor in _anchors(path), f"{page.name} links to {link}: no such heading"
    if page == README:
        assert len(relative) >= 10, "README.md should link the guides in docs/"


def test_benchmark_tables_keep_their_markers():
    text = (ROOT / "docs" / "performance.md").read_text()
    for name in (
        "sync",
        "metric_sync",
        "webhook",
        "metric-webhook",
        "webhook-storage",
        "slow-clients",
        "slow-posthog",
        "heavy-ranges",
        "large-answer",
        "slow-sends",
    ):
        assert text.count(f"<!-- bench:{name} -->") == 1 and text.count(f"<!-- /bench:{name} -->") == 1
        inside = text.split(f"<!-- bench:{name} -->")[1].split(f"<!-- /bench:{name} -->")[0]
        assert re.search(r"^\|.*\|$", inside, re.MULTILINE), f"bench:{name} holds no table"


# How the settings (visitorsync/settings/read.py) and gunicorn.conf.py read a variable:
# django-environ's typed readers (env.str("X", ...), env.db("X") ...), the settings' raw
# reader read_raw("X"), os.environ.get("X") / os.environ["X"], and gunicorn.conf.py's own
# _int("X", ...).
_READS = re.compile(
    r"""(?:\benv(?:\.\w+)?\(|\bread_raw\(|\bos\.environ\.get\(|\bos\.environ\[|\bos\.getenv\(|\b_int\()"""
    r"""\s*["']([A-Z][A-Z0-9_]*)["']"""
)
SETTINGS = ROOT / "visitorsync" / "settings"


def _variables_read() -> set[str]:
    return {
        name
        for source in (SETTINGS / "read.py", ROOT / "gunicorn.conf.py")
        for name in _READS.findall(source.read_text())
    }


def test_only_read_py_reads_the_environment_and_raw_reads_go_through_one_helper():
    for module in SETTINGS.glob("*.py"):
        if module.name != "read.py":
            assert not re.search(r"\benv\.\w+\(|\bread_raw\(|\bos\.(environ|getenv)", module.read_text()), (
                module.name
            )
    read = (SETTINGS / "read.py").read_text()
    assert read.count("os.environ") == 1, "read.py reads raw values through read_raw() only"
    assert len(re.findall(r"\bread_raw\(\s*\"", read)) >= 8


def test_each_setting_is_defined_in_one_settings_module():
    def names(module: str) -> set[str]:
        return set(re.findall(r"^([A-Z][A-Z0-9_]*) *=", (SETTINGS / module).read_text(), re.MULTILINE))

    read, derived = names("read.py"), names("derived.py")
    assert len(read) >= 40 and len(derived) >= 15
    assert read & derived == set()


def test_every_environment_variable_the_app_reads_is_in_the_configuration_table():
    names = _variables_read()
    # A parse that finds next to nothing has gone wrong; it must not pass by finding nothing.
    assert len(names) >= 20, f"found only {sorted(names)} in settings/read.py and gunicorn.conf.py"
    table = "\n".join(
        line for line in (ROOT / "docs" / "configuration.md").read_text().splitlines() if line.startswith("|")
    )
    missing = sorted(name for name in names if f"`{name}`" not in table)
    assert not missing, f"docs/configuration.md's table does not document {missing}"
