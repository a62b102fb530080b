"""The environment, read once: every variable visitorsync reads, typed, with its default.

A default exists only where it is safe; production secrets have none. Values are stored as
given (normalised at most), even when wrong: `metrics/checks.py` reports them all at once.
This module raises only when Django could not start at all, and says why where it does.
Lower-case names are read values that Django's settings are built from in `derived.py`.
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()


def read_raw(name: str, default: str = "") -> str:
    """The variable's text exactly as given, less surrounding blanks; `default` when unset.

    For values that may start with "$" (secrets, URLs with a secret path, PostHog's
    "$pageview"): django-environ's readers take such a value for the name of another variable
    to read instead ("$pageview" would read a variable named "pageview", or the default).
    django-environ 0.14 has no switch to turn that off: `Env.smart_cast` is about types,
    `Env.escape_proxy` only lets a value spell a literal "$" as "\\$", and an `interpolate`
    argument (0.11.0) was reverted in 0.11.1. So these few are read here, without it.
    """
    return os.environ.get(name, default).strip()


# VISITORSYNC_ENV_FILE="" disables the file (the test suite does, so a developer's real
# keys never leak into tests). Real environment variables win over the file's.
env_file = read_raw("VISITORSYNC_ENV_FILE", str(BASE_DIR / ".env"))
if env_file and Path(env_file).is_file():
    environ.Env.read_env(env_file)

# --- Django -----------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    # Stops here: Django itself refuses to start without a SECRET_KEY, and production must
    # not run on a key anyone can read in this file.
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it to a long random string, for example the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`, or set DEBUG=true "
            "for local development."
        )
    SECRET_KEY = "django-insecure-local-development-only-never-use-in-production"  # noqa: S105

# Demo mode (`scripts/run --demo`): sample data from a local PostHog stand-in, a banner on
# every admin page. Never in production: it needs DEBUG.
VISITORSYNC_DEMO = env.bool("VISITORSYNC_DEMO", default=False)
if VISITORSYNC_DEMO and not DEBUG:
    # A safety stop, not a check: sample data must never be served as the real numbers.
    raise ImproperlyConfigured(
        "VISITORSYNC_DEMO is on but DEBUG is off: demo mode shows sample data and is only for "
        "your own machine. Unset VISITORSYNC_DEMO, or run `scripts/run --demo`, which turns DEBUG on."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Check ids to silence, e.g. "security.W021" if you choose not to send HSTS preload.
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])

TIME_ZONE = env.str("TIME_ZONE", default="UTC")
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")

# --- Database -------------------------------------------------------------------------
# An unparseable DATABASE_URL raises here: Django cannot start without a database setting.
database_from_url = env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
sqlite_busy_timeout = env.int("SQLITE_BUSY_TIMEOUT", default=30)
conn_max_age = env.int("CONN_MAX_AGE", default=60)
# PostgreSQL that stops answering must not hold a request for the whole outage (see
# docs/deploying.md, "When the database stops answering"). Seconds; 0 turns a limit off.
# Opening a connection: psycopg's own default is 130 s per address the host resolves to.
DATABASE_CONNECT_TIMEOUT = env.int("DATABASE_CONNECT_TIMEOUT", default=5)
# Longest statement, enforced by the server: above any statement of a sync's write
# transaction (each is small), below "forever" for a lock wait or a runaway query.
DATABASE_STATEMENT_TIMEOUT = env.float("DATABASE_STATEMENT_TIMEOUT", default=30.0)
# How long sent data may stay unacknowledged before the kernel drops the connection
# (TCP_USER_TIMEOUT): a database host or network that vanished mid-request.
DATABASE_TCP_USER_TIMEOUT = env.float("DATABASE_TCP_USER_TIMEOUT", default=10.0)
# Longest a webhook delivery waits on the database in all, enforced by the app itself
# (metrics/core/db_deadline.py): PostHog gives up after 10 s.
VISITORSYNC_WEBHOOK_DB_TIMEOUT = env.float("VISITORSYNC_WEBHOOK_DB_TIMEOUT", default=5.0)
# Longest any other request waits for one answer from the database, enforced by the app
# (metrics/http/database_wait.py); past it the process answers 503 at once to requests that
# need the database until it answers again, so a silent database cannot hold every thread.
VISITORSYNC_REQUEST_DB_TIMEOUT = env.float("VISITORSYNC_REQUEST_DB_TIMEOUT", default=3.0)

# --- Production: HTTPS behind a proxy ------------------------------------------------------
# Safe defaults when DEBUG is off; each can be overridden from the environment.
# `manage.py check --deploy --fail-level WARNING` passes with docs/deploying.md's variables.
https_by_default = not DEBUG
# "HTTP_X_FORWARDED_PROTO,https": trust the proxy's header saying the request came over
# https. Set it only when your proxy always sets (overwrites) that header.
proxy_ssl_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=https_by_default)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if https_by_default else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=https_by_default)
# Only an apex domain can be put on browsers' preload list; see docs/deploying.md.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=https_by_default)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=https_by_default)

# --- PostHog --------------------------------------------------------------------------
POSTHOG_HOST = env.str("POSTHOG_HOST", default="https://us.posthog.com").rstrip("/")
POSTHOG_PROJECT_ID = env.str("POSTHOG_PROJECT_ID", default="")
POSTHOG_API_KEY = env.str("POSTHOG_API_KEY", default="")
POSTHOG_CONNECT_TIMEOUT = env.float("POSTHOG_CONNECT_TIMEOUT", default=5.0)
# PostHog stops a query after 10 s; leave room for queueing and the transfer.
POSTHOG_READ_TIMEOUT = env.float("POSTHOG_READ_TIMEOUT", default=30.0)
# The read timeout bounds each read; this bounds one attempt in all (connect to last byte).
POSTHOG_QUERY_TIMEOUT = env.float("POSTHOG_QUERY_TIMEOUT", default=60.0)
POSTHOG_MAX_ATTEMPTS = env.int("POSTHOG_MAX_ATTEMPTS", default=4)
POSTHOG_RETRY_DEADLINE = env.float("POSTHOG_RETRY_DEADLINE", default=120.0)
POSTHOG_RETRY_AFTER_CAP = env.float("POSTHOG_RETRY_AFTER_CAP", default=60.0)
# The most of one answer read (bytes): a weekly answer is a few kilobytes, so this only stops
# a broken proxy or host from filling the memory (metrics/posthog/client.py).
POSTHOG_MAX_ANSWER_BYTES = env.int("POSTHOG_MAX_ANSWER_BYTES", default=16 * 1024 * 1024)

# --- Weeks and what counts --------------------------------------------------------------
VISITORSYNC_WEEK_START = env.str("VISITORSYNC_WEEK_START", default="monday").strip().lower()
VISITORSYNC_TIMEZONE = env.str("VISITORSYNC_TIMEZONE", default=TIME_ZONE)
# Comma-separated: "$pageview,$screen" counts web and mobile (metrics/core/counting.py).
VISITORSYNC_EVENT = read_raw("VISITORSYNC_EVENT") or "$pageview"
# Hosts whose events count ("example.com,*.example.com"); empty: every host. Events
# without a $host (mobile) count either way.
VISITORSYNC_HOSTS = read_raw("VISITORSYNC_HOSTS")
# Apply the PostHog project's own "internal and test users" filters in the sync's query.
# Read as text and checked by metrics.E004, so a typo is an error, not a silent "false".
VISITORSYNC_FILTER_TEST_ACCOUNTS = read_raw("VISITORSYNC_FILTER_TEST_ACCOUNTS", "false")
VISITORSYNC_BACKFILL_WEEKS = env.int("VISITORSYNC_BACKFILL_WEEKS", default=12)
VISITORSYNC_CHUNK_WEEKS = env.int("VISITORSYNC_CHUNK_WEEKS", default=52)

# --- Syncs ------------------------------------------------------------------------------
# A sync whose heartbeat stopped this long ago is presumed dead ("abandoned"): marked failed
# and its lock released, so a killed process blocks other syncs for at most this long. A live
# sync beats six times in this interval, also while it waits on PostHog.
# VISITORSYNC_SYNC_STALE_AFTER is its old name, still read (metrics.W005 warns).
VISITORSYNC_SYNC_ABANDON_AFTER = env.int(
    "VISITORSYNC_SYNC_ABANDON_AFTER", default=env.int("VISITORSYNC_SYNC_STALE_AFTER", default=120)
)
# Old setting names found in the environment: name -> new name (reported by metrics.W005).
VISITORSYNC_RENAMED_SETTINGS = {
    old: new
    for old, new in {"VISITORSYNC_SYNC_STALE_AFTER": "VISITORSYNC_SYNC_ABANDON_AFTER"}.items()
    if old in env
}
# When scheduled syncs run (crontab job; also what "stale" in the status is measured by).
VISITORSYNC_CRON_SCHEDULE = env.str("VISITORSYNC_CRON_SCHEDULE", default="0 */6 * * *")
# Where the crontab job's output goes. Empty: cron's own handling (mailed to MAILTO, or
# dropped when the host has no mail transfer agent).
VISITORSYNC_CRON_LOG = env.str("VISITORSYNC_CRON_LOG", default="")
# Where a sync started from the admin page runs (Django's Tasks interface): "thread", a
# thread of the web process that served the click (one small server); or "database", a
# queue in the database that `manage.py db_worker` processes, so the sync survives a deploy
# or a worker restart, and several app servers share one queue. See docs/scaling.md.
VISITORSYNC_TASK_BACKEND = env.str("VISITORSYNC_TASK_BACKEND", default="thread").strip().lower()

# --- Secrets of the webhook, the cron endpoint and the stats API ------------------------
# Shared secret(s) of /api/webhooks/posthog, sent as "Authorization: Bearer <secret>" or
# "X-Webhook-Secret: <secret>"; comma-separated to rotate without downtime.
POSTHOG_WEBHOOK_SECRET = read_raw("POSTHOG_WEBHOOK_SECRET")
# Standard Webhooks signing secret(s) ("whsec_..."), comma-separated to rotate.
POSTHOG_WEBHOOK_SIGNING_SECRET = read_raw("POSTHOG_WEBHOOK_SIGNING_SECRET")
# Bearer secret(s) of /api/cron/sync-visitors, comma-separated to rotate. No default: unset
# is allowed only with DEBUG (see metrics/checks.py).
CRON_SECRET = read_raw("CRON_SECRET")
# Bearer token(s) of the read-only stats API (/api/stats/weekly), comma-separated to rotate;
# none set means the stats API answers 503.
VISITORSYNC_API_TOKENS = read_raw("VISITORSYNC_API_TOKENS")

# --- Webhook ----------------------------------------------------------------------------
# Larger bodies are refused with 413 before they are read (a pageview is about 2 KiB).
VISITORSYNC_WEBHOOK_MAX_BODY = env.int("VISITORSYNC_WEBHOOK_MAX_BODY", default=64 * 1024)
# Weeks (the current one included) for which delivery keys and visitor hashes are kept to
# recognise redeliveries and returning visitors; older events are left to the sync.
VISITORSYNC_WEBHOOK_RETENTION_WEEKS = env.int("VISITORSYNC_WEBHOOK_RETENTION_WEEKS", default=8)

# --- Reports and alerts (docs/reports-and-alerts.md) -------------------------------------
# Outgoing mail, e.g. smtp+tls://user:password@smtp.example.com:587. Unset: the console (the
# process's output) with DEBUG, otherwise no mail at all.
email_url = read_raw("EMAIL_URL")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="visitorsync <visitorsync@localhost>")
# Seconds one SMTP send may take in all, from connecting to QUIT (metrics.reports.smtp;
# Django's own backend would bound each read only, and waits forever by default).
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)
VISITORSYNC_REPORT_RECIPIENTS = [
    a.strip() for a in env.list("VISITORSYNC_REPORT_RECIPIENTS", default=[]) if a.strip()
]
VISITORSYNC_ALERT_RECIPIENTS = [
    a.strip() for a in env.list("VISITORSYNC_ALERT_RECIPIENTS", default=[]) if a.strip()
]
# Slack-compatible incoming webhook; its path is a secret.
VISITORSYNC_ALERT_WEBHOOK_URL = read_raw("VISITORSYNC_ALERT_WEBHOOK_URL")
# Seconds one post to it may take in all, from connecting to the end of the answer.
VISITORSYNC_ALERT_WEBHOOK_TIMEOUT = env.float("VISITORSYNC_ALERT_WEBHOOK_TIMEOUT", default=10.0)
VISITORSYNC_ALERT_QUIET_HOURS = env.float("VISITORSYNC_ALERT_QUIET_HOURS", default=24.0)
VISITORSYNC_ALERT_DROP = env.float("VISITORSYNC_ALERT_DROP", default=0.5)
VISITORSYNC_BASE_URL = env.str("VISITORSYNC_BASE_URL", default="").strip().rstrip("/")
# When the crontab job sends the weekly report (after the Monday-morning sync); installed only
# with report recipients; empty: no job.
VISITORSYNC_REPORT_SCHEDULE = env.str("VISITORSYNC_REPORT_SCHEDULE", default="30 6 * * 1").strip()

# --- Logging ----------------------------------------------------------------------------
VISITORSYNC_LOG_LEVEL = env.str("VISITORSYNC_LOG_LEVEL", default="INFO").strip().upper()
DJANGO_LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", default="INFO").strip().upper()
