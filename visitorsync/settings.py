"""Settings for visitorsync, read once from the environment (and an optional `.env`).

Every setting is documented in docs/configuration.md and `.env.example`. Defaults exist only where
they are safe; production secrets have none (see `metrics/checks.py`).
"""

import os
import shlex
import zoneinfo
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# VISITORSYNC_ENV_FILE="" disables the file (the test suite does, so a developer's real
# keys never leak into tests).
_env_file = os.environ.get("VISITORSYNC_ENV_FILE", str(BASE_DIR / ".env"))
if _env_file and Path(_env_file).is_file():
    environ.Env.read_env(_env_file)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
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
    raise ImproperlyConfigured(
        "VISITORSYNC_DEMO is on but DEBUG is off: demo mode shows sample data and is only for "
        "your own machine. Unset VISITORSYNC_DEMO, or run `scripts/run --demo`, which turns DEBUG on."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Check ids to silence, e.g. "security.W021" if you choose not to send HSTS preload.
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_crontab",
    "django_tasks",
    "metrics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves collected static files (the admin's) with far-future caching; right after
    # SecurityMiddleware so they get its headers but skip the rest.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "visitorsync.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if VISITORSYNC_DEMO:
    # The "Demo data" banner; production never loads the demo package.
    TEMPLATES[0]["OPTIONS"]["context_processors"].append("demo.context.demo")

WSGI_APPLICATION = "visitorsync.wsgi.application"

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Webhooks write concurrently. WAL lets readers run beside the writer, the timeout
    # makes writers queue instead of failing with "database is locked", and IMMEDIATE
    # takes the write lock at BEGIN so two transactions cannot deadlock on upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=30),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

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
if (
    DATABASE_CONNECT_TIMEOUT < 1
    or DATABASE_STATEMENT_TIMEOUT < 0
    or DATABASE_TCP_USER_TIMEOUT < 0
    or VISITORSYNC_WEBHOOK_DB_TIMEOUT <= 0
):
    raise ImproperlyConfigured(
        "Database timeouts are seconds: DATABASE_CONNECT_TIMEOUT at least 1, "
        "DATABASE_STATEMENT_TIMEOUT and DATABASE_TCP_USER_TIMEOUT at least 0 (0: no limit), "
        "VISITORSYNC_WEBHOOK_DB_TIMEOUT more than 0 (and below PostHog's 10 s)."
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    # libpq parameters; one given in DATABASE_URL's query string (?connect_timeout=10) wins.
    for _name, _value in {
        "connect_timeout": DATABASE_CONNECT_TIMEOUT,
        # An idle connection whose peer vanished is noticed in about 5 + 2 x 3 s (sooner
        # with tcp_user_timeout), before a request tries to use it.
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
        "tcp_user_timeout": round(DATABASE_TCP_USER_TIMEOUT * 1000),  # milliseconds
    }.items():
        _options.setdefault(_name, _value)
    if DATABASE_STATEMENT_TIMEOUT and "statement_timeout" not in _options.get("options", ""):
        _statement_timeout = f"-c statement_timeout={round(DATABASE_STATEMENT_TIMEOUT * 1000)}"
        _options["options"] = f"{_options.get('options', '')} {_statement_timeout}".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # collectstatic writes content-hashed, pre-compressed copies; WhiteNoise serves them
    # with a one-year immutable cache header because the name changes with the content.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Production: HTTPS behind a proxy ------------------------------------------------------
# Safe defaults when DEBUG is off; each can be overridden from the environment.
# `manage.py check --deploy --fail-level WARNING` passes with docs/deploying.md's variables.
_https = not DEBUG
# "HTTP_X_FORWARDED_PROTO,https": trust the proxy's header saying the request came over
# https. Set it only when your proxy always sets (overwrites) that header.
_proxy_ssl_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_ssl_header:
    if len(_proxy_ssl_header) != 2 or not _proxy_ssl_header[0].startswith("HTTP_"):
        raise ImproperlyConfigured(
            "SECURE_PROXY_SSL_HEADER must be '<header>,<value>' with the header in Django's "
            "META form, for example 'HTTP_X_FORWARDED_PROTO,https', not "
            f"{','.join(_proxy_ssl_header)!r}."
        )
    SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header[0], _proxy_ssl_header[1])
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_https)
# Machines call /api/ (PostHog's webhook, cron, status). PostHog counts a 3xx as a failed
# delivery, and a redirected POST loses its body, so these never redirect; your proxy
# should serve them over https only.
SECURE_REDIRECT_EXEMPT = [r"^api/"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if _https else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=_https)
# Only an apex domain can be put on browsers' preload list; see docs/deploying.md.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=_https)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=_https)

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

# --- Weeks ----------------------------------------------------------------------------
VISITORSYNC_WEEK_START = env.str("VISITORSYNC_WEEK_START", default="monday").strip().lower()
if VISITORSYNC_WEEK_START not in ("monday", "sunday"):
    raise ImproperlyConfigured(
        f"VISITORSYNC_WEEK_START must be 'monday' or 'sunday', not {VISITORSYNC_WEEK_START!r}."
    )
VISITORSYNC_TIMEZONE = env.str("VISITORSYNC_TIMEZONE", default=TIME_ZONE)
try:
    zoneinfo.ZoneInfo(VISITORSYNC_TIMEZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
    raise ImproperlyConfigured(
        f"VISITORSYNC_TIMEZONE={VISITORSYNC_TIMEZONE!r} is not an IANA time zone name "
        "(for example 'Europe/Berlin' or 'America/New_York'). Use your PostHog project's "
        "time zone."
    ) from err
# django-environ reads a value starting with "$" as a reference to another variable
# ("$pageview" would look up a variable named "pageview"), so read this one raw.
# Comma-separated: "$pageview,$screen" counts web and mobile (metrics/core/counting.py).
VISITORSYNC_EVENT = os.environ.get("VISITORSYNC_EVENT", "").strip() or "$pageview"
# Hosts whose events count ("example.com,*.example.com"); empty: every host. Events
# without a $host (mobile) count either way.
VISITORSYNC_HOSTS = os.environ.get("VISITORSYNC_HOSTS", "").strip()
# Apply the PostHog project's own "internal and test users" filters in the sync's query.
# Read as text and checked by metrics.E004, so a typo is an error, not a silent "false".
VISITORSYNC_FILTER_TEST_ACCOUNTS = os.environ.get("VISITORSYNC_FILTER_TEST_ACCOUNTS", "false").strip()
VISITORSYNC_BACKFILL_WEEKS = env.int("VISITORSYNC_BACKFILL_WEEKS", default=12)
VISITORSYNC_CHUNK_WEEKS = env.int("VISITORSYNC_CHUNK_WEEKS", default=52)
if VISITORSYNC_BACKFILL_WEEKS < 1 or not 1 <= VISITORSYNC_CHUNK_WEEKS <= 520:
    raise ImproperlyConfigured(
        "VISITORSYNC_BACKFILL_WEEKS must be at least 1 and VISITORSYNC_CHUNK_WEEKS between 1 and "
        "520 (a query's answer must stay below PostHog's row limit)."
    )
# A sync whose heartbeat stopped this long ago is presumed dead ("abandoned"): marked failed
# and its lock released, so a killed process blocks other syncs for at most this long. A live
# sync beats six times in this interval, also while it waits on PostHog.
# VISITORSYNC_SYNC_STALE_AFTER is its old name, still read (metrics.W005 warns).
VISITORSYNC_SYNC_ABANDON_AFTER = env.int(
    "VISITORSYNC_SYNC_ABANDON_AFTER", default=env.int("VISITORSYNC_SYNC_STALE_AFTER", default=120)
)
if VISITORSYNC_SYNC_ABANDON_AFTER < 1:
    raise ImproperlyConfigured(
        f"VISITORSYNC_SYNC_ABANDON_AFTER must be a positive number of seconds (default 120), not "
        f"{VISITORSYNC_SYNC_ABANDON_AFTER}."
    )
# Old setting names found in the environment: name -> new name (reported by metrics.W005).
VISITORSYNC_RENAMED_SETTINGS = {
    old: new
    for old, new in {"VISITORSYNC_SYNC_STALE_AFTER": "VISITORSYNC_SYNC_ABANDON_AFTER"}.items()
    if old in os.environ
}
# When scheduled syncs run (crontab job; also what "stale" in the status is measured by).
VISITORSYNC_CRON_SCHEDULE = env.str("VISITORSYNC_CRON_SCHEDULE", default="0 */6 * * *")

# Where a sync started from the admin page runs (Django's Tasks interface): "thread", a
# thread of the web process that served the click (one small server); or "database", a
# queue in the database that `manage.py db_worker` processes, so the sync survives a deploy
# or a worker restart, and several app servers share one queue. See docs/scaling.md.
_TASK_BACKENDS = {
    "thread": "metrics.jobs.thread_backend.ThreadBackend",
    "database": "django_tasks_db.DatabaseBackend",
}
VISITORSYNC_TASK_BACKEND = env.str("VISITORSYNC_TASK_BACKEND", default="thread").strip().lower()
if VISITORSYNC_TASK_BACKEND not in _TASK_BACKENDS:
    raise ImproperlyConfigured(
        f"VISITORSYNC_TASK_BACKEND must be 'thread' or 'database', not {VISITORSYNC_TASK_BACKEND!r}."
    )
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[VISITORSYNC_TASK_BACKEND]}}
if VISITORSYNC_TASK_BACKEND == "database":
    # Its queue table (created by `migrate`), its worker command and its admin pages.
    INSTALLED_APPS.append("django_tasks_db")

# --- Webhook (PostHog HTTP Webhook destination -> /api/webhooks/posthog) --------------
# Read without django-environ's interpolation: a secret may start with "$", which
# django-environ would take for a reference to another variable.
# Shared secret(s) sent as "Authorization: Bearer <secret>" or "X-Webhook-Secret: <secret>";
# comma-separated to rotate without downtime.
POSTHOG_WEBHOOK_SECRET = os.environ.get("POSTHOG_WEBHOOK_SECRET", "").strip()
# Standard Webhooks signing secret(s) ("whsec_..."), comma-separated to rotate.
POSTHOG_WEBHOOK_SIGNING_SECRET = os.environ.get("POSTHOG_WEBHOOK_SIGNING_SECRET", "").strip()
# Larger bodies are refused with 413 before they are read (a pageview is about 2 KiB).
VISITORSYNC_WEBHOOK_MAX_BODY = env.int("VISITORSYNC_WEBHOOK_MAX_BODY", default=64 * 1024)
# Weeks (the current one included) for which delivery keys and visitor hashes are kept to
# recognise redeliveries and returning visitors; older events are left to the sync.
VISITORSYNC_WEBHOOK_RETENTION_WEEKS = env.int("VISITORSYNC_WEBHOOK_RETENTION_WEEKS", default=8)
if VISITORSYNC_WEBHOOK_MAX_BODY < 1024 or VISITORSYNC_WEBHOOK_RETENTION_WEEKS < 1:
    raise ImproperlyConfigured(
        "VISITORSYNC_WEBHOOK_MAX_BODY must be at least 1024 (bytes) and "
        "VISITORSYNC_WEBHOOK_RETENTION_WEEKS at least 1."
    )

# --- Scheduled sync: cron endpoint and crontab job --------------------------------------
# Bearer secret(s) of /api/cron/sync-visitors; several comma-separated ones rotate without
# downtime. Read raw: django-environ would take a secret starting with "$" for a reference
# to another variable. No default: unset is allowed only with DEBUG (see metrics/checks.py).
CRON_SECRET = os.environ.get("CRON_SECRET", "").strip()
# Bearer token(s) of the read-only stats API (/api/stats/weekly), comma-separated to rotate.
# Read raw like CRON_SECRET; none set means the stats API answers 503.
VISITORSYNC_API_TOKENS = os.environ.get("VISITORSYNC_API_TOKENS", "").strip()
# django-crontab: `manage.py crontab add` installs one line running metrics.jobs.crontab on the
# schedule above. Its file lock keeps one run per host; the SyncRun lock covers every host.
CRONJOBS = [(VISITORSYNC_CRON_SCHEDULE, "metrics.jobs.crontab.sync_visitors_job")]
CRONTAB_LOCK_JOBS = True
CRONTAB_DJANGO_MANAGE_PATH = str(BASE_DIR / "manage.py")
CRONTAB_COMMENT = "visitorsync scheduled sync"
# Where the crontab job's output goes. Empty: cron's own handling (mailed to MAILTO, or
# dropped when the host has no mail transfer agent).
VISITORSYNC_CRON_LOG = env.str("VISITORSYNC_CRON_LOG", default="")
if VISITORSYNC_CRON_LOG:
    CRONTAB_COMMAND_SUFFIX = f">> {shlex.quote(VISITORSYNC_CRON_LOG)} 2>&1"

# --- Reports and alerts (docs/reports-and-alerts.md) -------------------------------------
# Outgoing mail, e.g. smtp+tls://user:password@smtp.example.com:587. Unset: the console (the
# process's output) with DEBUG, otherwise no mail at all.
_email_url = os.environ.get("EMAIL_URL", "").strip()
EMAIL_CONFIGURED = bool(_email_url) or DEBUG
try:
    vars().update(environ.Env.email_url_config(_email_url or ("consolemail://" if DEBUG else "dummymail://")))
except ImproperlyConfigured as err:
    raise ImproperlyConfigured(
        "EMAIL_URL must start with smtp://, smtps:// (TLS from the start) or smtp+tls:// (STARTTLS), for "
        "example smtp+tls://user:password@smtp.example.com:587; percent-encode @ or : in the password."
    ) from err
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="visitorsync <visitorsync@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Seconds an SMTP connection may block (Django's default is forever).
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)
VISITORSYNC_REPORT_RECIPIENTS = [
    a.strip() for a in env.list("VISITORSYNC_REPORT_RECIPIENTS", default=[]) if a.strip()
]
VISITORSYNC_ALERT_RECIPIENTS = [
    a.strip() for a in env.list("VISITORSYNC_ALERT_RECIPIENTS", default=[]) if a.strip()
]
# Slack-compatible incoming webhook; its path is a secret. Read raw (no "$" interpolation).
VISITORSYNC_ALERT_WEBHOOK_URL = os.environ.get("VISITORSYNC_ALERT_WEBHOOK_URL", "").strip()
VISITORSYNC_ALERT_WEBHOOK_TIMEOUT = env.float("VISITORSYNC_ALERT_WEBHOOK_TIMEOUT", default=10.0)
VISITORSYNC_ALERT_QUIET_HOURS = env.float("VISITORSYNC_ALERT_QUIET_HOURS", default=24.0)
VISITORSYNC_ALERT_DROP = env.float("VISITORSYNC_ALERT_DROP", default=0.5)
VISITORSYNC_BASE_URL = env.str("VISITORSYNC_BASE_URL", default="").strip().rstrip("/")
# When the crontab job sends the weekly report (after the Monday-morning sync); installed only
# with report recipients; empty: no job.
VISITORSYNC_REPORT_SCHEDULE = env.str("VISITORSYNC_REPORT_SCHEDULE", default="30 6 * * 1").strip()
if (
    EMAIL_TIMEOUT <= 0
    or VISITORSYNC_ALERT_WEBHOOK_TIMEOUT <= 0
    or VISITORSYNC_ALERT_QUIET_HOURS <= 0
    or not 0 < VISITORSYNC_ALERT_DROP < 1
):
    raise ImproperlyConfigured(
        "EMAIL_TIMEOUT, VISITORSYNC_ALERT_WEBHOOK_TIMEOUT and VISITORSYNC_ALERT_QUIET_HOURS must be "
        "above 0, and VISITORSYNC_ALERT_DROP a share between 0 and 1 (0.5: alert when visitors halve)."
    )
if VISITORSYNC_REPORT_SCHEDULE and VISITORSYNC_REPORT_RECIPIENTS:
    CRONJOBS.append((VISITORSYNC_REPORT_SCHEDULE, "metrics.jobs.crontab.weekly_report_job"))

# --- Logging ----------------------------------------------------------------------------
# One console handler (stdout/stderr is what systemd, Docker and platforms collect).
# Nothing logs a secret or a raw visitor id (tests/test_logging.py).
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
VISITORSYNC_LOG_LEVEL = env.str("VISITORSYNC_LOG_LEVEL", default="INFO").strip().upper()
DJANGO_LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", default="INFO").strip().upper()
for _name, _level in (
    ("VISITORSYNC_LOG_LEVEL", VISITORSYNC_LOG_LEVEL),
    ("DJANGO_LOG_LEVEL", DJANGO_LOG_LEVEL),
):
    if _level not in _LOG_LEVELS:
        raise ImproperlyConfigured(f"{_name} must be one of {', '.join(_LOG_LEVELS)}, not {_level!r}.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # The process id tells gunicorn's workers apart.
        "plain": {"format": "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    # Other libraries speak up at WARNING. Ours propagate to the root handler rather
    # than having their own, so each record is written once.
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "metrics": {"level": VISITORSYNC_LOG_LEVEL},
        "django": {"level": DJANGO_LOG_LEVEL},
    },
}
