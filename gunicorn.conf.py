"""gunicorn settings for visitorsync: `gunicorn -c gunicorn.conf.py visitorsync.wsgi`.

Every value can be changed from the environment; docs/deploying.md explains each.
visitorsync is I/O-bound (it waits on the database and on PostHog), so a few processes
with several threads each serve many concurrent webhooks on a small machine.
"""

import os
from pathlib import Path

import environ

# The same optional `.env` the Django settings read, so PORT and friends can live there too
# (real environment variables win).
_env_file = os.environ.get("VISITORSYNC_ENV_FILE", str(Path(__file__).resolve().parent / ".env"))
if _env_file and Path(_env_file).is_file():
    environ.Env.read_env(_env_file)


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {value!r}.") from None


# Where to listen: loopback unless told otherwise. A gthread worker gives a thread to a
# connection as soon as its first byte arrives and keeps it until the request is complete,
# so a few clients that send slowly hold every thread (WEB_CONCURRENCY x GUNICORN_THREADS)
# and nothing else is answered. Only a proxy that buffers whole requests (nginx with
# deploy/nginx/visitorsync.conf) should reach gunicorn; docs/deploying.md explains.
# PORT is what Heroku, Render and Fly set: their router is in front and must reach
# gunicorn on every interface, so PORT means 0.0.0.0:$PORT. GUNICORN_BIND wins over both.
if os.environ.get("GUNICORN_BIND", "").strip():
    bind = os.environ["GUNICORN_BIND"].strip()
elif os.environ.get("PORT", "").strip():
    bind = f"0.0.0.0:{_int('PORT', 8000)}"
else:
    bind = "127.0.0.1:8000"

# Processes: WEB_CONCURRENCY is the platforms' convention. Two survive one crashing and
# fit in 512 MB; raise it on bigger machines (each process holds its own DB connections).
workers = _int("WEB_CONCURRENCY", 2)
# Threads per process: requests mostly wait on I/O, so threads are cheap concurrency.
# Each thread keeps one database connection open (CONN_MAX_AGE), so PostgreSQL needs at
# least workers x threads connections per app server.
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 4)

# A sync started over HTTP may wait on PostHog for POSTHOG_RETRY_DEADLINE (120 s) plus one
# attempt (POSTHOG_QUERY_TIMEOUT, 60 s) per query. With gthread workers `timeout` is how
# long a worker may stop answering the master, not a cap on one request, but keep both it
# and the graceful shutdown (a restart lets running requests finish) above a whole sync: 900 s
# is many queries' worth, and far above VISITORSYNC_SYNC_ABANDON_AFTER (120 s without a
# heartbeat, after which visitorsync itself presumes a sync dead).
timeout = _int("GUNICORN_TIMEOUT", 900)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 900)
keepalive = 5
# Proxies whose X-Forwarded-* headers gunicorn trusts (comma-separated, "*" for any: only
# when nothing but your proxy can reach gunicorn).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Access and error logs to stdout/stderr, where systemd and platforms collect them.
# %(M)s is the request time in milliseconds.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'

# gunicorn 25.1+ opens a control socket for `gunicornc` by default, at one path per user
# ($XDG_RUNTIME_DIR/gunicorn.ctl or ~/.gunicorn/gunicorn.ctl), so two instances on one host
# would announce the same socket. visitorsync needs none: off.
control_socket_disable = True

# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = 200
