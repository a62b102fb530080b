"""Django's settings built from what `read.py` read: apps, middleware, database options, mail,
tasks, crontab lines and logging. Reads nothing from the environment itself.

A value `metrics/checks.py` reports as wrong still yields something Django can start with
here, so `manage.py check` can list every problem; raising is left to the values Django
could not start without at all (each says why).
"""

import copy
import shlex

import environ
from django.core.exceptions import ImproperlyConfigured

from visitorsync.settings import read

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # The project's own commands; before django_crontab, so `crontab` is ours (it checks for
    # cron, where django-crontab's printed "not found" and exited 0).
    "visitorsync",
    "django_crontab",
    "django_tasks",
    "metrics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves collected static files (the admin's) with far-future caching; right after
    # SecurityMiddleware so they get its headers but skip the rest.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Every error under /api/ as the JSON error object, also those of the middleware below.
    "metrics.http.api_errors.ApiErrorsMiddleware",
    # A bounded wait on the database for every request, sessions and the admin's login
    # included, and a fast 503 while the database does not answer.
    "metrics.http.database_wait.DatabaseWaitMiddleware",
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
        "DIRS": [read.BASE_DIR / "templates"],
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

if read.VISITORSYNC_DEMO:
    # The "Demo data" banner; production never loads the demo package.
    TEMPLATES[0]["OPTIONS"]["context_processors"].append("demo.context.demo")

WSGI_APPLICATION = "visitorsync.wsgi.application"

# --- Database -------------------------------------------------------------------------
DATABASES = {"default": copy.deepcopy(read.database_from_url)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Webhooks write concurrently. WAL lets readers run beside the writer, the timeout
    # makes writers queue instead of failing with "database is locked", and IMMEDIATE
    # takes the write lock at BEGIN so two transactions cannot deadlock on upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": read.sqlite_busy_timeout,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", read.conn_max_age)
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    # libpq parameters; one given in DATABASE_URL's query string (?connect_timeout=10) wins.
    # Out-of-range timeouts are metrics.E010's to report; no connection opens before it does.
    for _name, _value in {
        "connect_timeout": read.DATABASE_CONNECT_TIMEOUT,
        # An idle connection whose peer vanished is noticed in about 5 + 2 x 3 s (sooner
        # with tcp_user_timeout), before a request tries to use it.
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
        "tcp_user_timeout": round(read.DATABASE_TCP_USER_TIMEOUT * 1000),  # milliseconds
    }.items():
        _options.setdefault(_name, _value)
    if read.DATABASE_STATEMENT_TIMEOUT and "statement_timeout" not in _options.get("options", ""):
        _statement_timeout = f"-c statement_timeout={round(read.DATABASE_STATEMENT_TIMEOUT * 1000)}"
        _options["options"] = f"{_options.get('options', '')} {_statement_timeout}".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# One date format on every page, Django's own fields included (visitorsync/formats/en).
FORMAT_MODULE_PATH = ["visitorsync.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # collectstatic writes content-hashed, pre-compressed copies; WhiteNoise serves them
    # with a one-year immutable cache header because the name changes with the content.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Files a browser asks for at the site's root (/favicon.ico), served by WhiteNoise as is.
WHITENOISE_ROOT = read.BASE_DIR / "visitorsync" / "root"

# --- Production: HTTPS behind a proxy ------------------------------------------------------
if read.proxy_ssl_header:
    # Kept as given: a malformed one is metrics.E013's to report (Django itself only
    # complains at the first request, whose is_secure() cannot unpack it).
    SECURE_PROXY_SSL_HEADER = tuple(read.proxy_ssl_header)
# Machines call /api/ (PostHog's webhook, cron, status). PostHog counts a 3xx as a failed
# delivery, and a redirected POST loses its body, so these never redirect; your proxy
# should serve them over https only.
SECURE_REDIRECT_EXEMPT = [r"^api/"]

# --- Tasks: where a sync started from the admin page runs ------------------------------
_TASK_BACKENDS = {
    "thread": "metrics.jobs.thread_backend.ThreadBackend",
    "database": "django_tasks_db.DatabaseBackend",
}
if read.VISITORSYNC_TASK_BACKEND not in _TASK_BACKENDS:
    # Stops here: TASKS needs a backend, and Django cannot load the app without one.
    raise ImproperlyConfigured(
        f"VISITORSYNC_TASK_BACKEND must be 'thread' or 'database', not {read.VISITORSYNC_TASK_BACKEND!r}."
    )
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[read.VISITORSYNC_TASK_BACKEND]}}
if read.VISITORSYNC_TASK_BACKEND == "database":
    # Its queue table (created by `migrate`), its worker command and its admin pages.
    INSTALLED_APPS.append("django_tasks_db")

# --- Scheduled jobs (django-crontab) ----------------------------------------------------
# `manage.py crontab add` installs one line running metrics.jobs.crontab on the sync
# schedule. Its file lock keeps one run per host; the SyncRun lock covers every host.
CRONJOBS = [(read.VISITORSYNC_CRON_SCHEDULE, "metrics.jobs.crontab.sync_visitors_job")]
if read.VISITORSYNC_REPORT_SCHEDULE and read.VISITORSYNC_REPORT_RECIPIENTS:
    CRONJOBS.append((read.VISITORSYNC_REPORT_SCHEDULE, "metrics.jobs.crontab.weekly_report_job"))
CRONTAB_LOCK_JOBS = True
CRONTAB_DJANGO_MANAGE_PATH = str(read.BASE_DIR / "manage.py")
CRONTAB_COMMENT = "visitorsync scheduled sync"
if read.VISITORSYNC_CRON_LOG:
    CRONTAB_COMMAND_SUFFIX = f">> {shlex.quote(read.VISITORSYNC_CRON_LOG)} 2>&1"

# --- Mail -------------------------------------------------------------------------------
EMAIL_CONFIGURED = bool(read.email_url) or read.DEBUG
try:
    # EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS...
    vars().update(
        environ.Env.email_url_config(read.email_url or ("consolemail://" if read.DEBUG else "dummymail://"))
    )
except ImproperlyConfigured as err:
    # Stops here: a URL with an unknown scheme cannot be turned into Django's mail settings.
    raise ImproperlyConfigured(
        "EMAIL_URL must start with smtp://, smtps:// (TLS from the start) or smtp+tls:// (STARTTLS), for "
        "example smtp+tls://user:password@smtp.example.com:587; percent-encode @ or : in the password."
    ) from err
if vars()["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend":
    # Django's, with EMAIL_TIMEOUT bounding each whole send rather than each read.
    EMAIL_BACKEND = "metrics.reports.smtp.EmailBackend"
SERVER_EMAIL = read.DEFAULT_FROM_EMAIL

# --- Logging ----------------------------------------------------------------------------
# One console handler (stdout/stderr is what systemd, Docker and platforms collect).
# Nothing logs a secret or a raw visitor id (tests/test_logging.py).
# An unknown level (metrics.E012) would make Django's logging setup fail before any check
# could name it, so LOGGING gets INFO for it meanwhile.
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _known_level(level: str) -> str:
    return level if level in _LOG_LEVELS else "INFO"


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
        "metrics": {"level": _known_level(read.VISITORSYNC_LOG_LEVEL)},
        "django": {"level": _known_level(read.DJANGO_LOG_LEVEL)},
    },
}
