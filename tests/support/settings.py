"""Test settings: the real settings module, isolated from a developer's `.env`.

The PostHog values are fake; tests talk to `responses` mocks or the loopback stub.
"""

import os
from pathlib import Path

os.environ["VISITORSYNC_ENV_FILE"] = ""
os.environ.setdefault("SECRET_KEY", "tests-only-not-secret-" + "k" * 40)
os.environ.setdefault("POSTHOG_HOST", "https://us.posthog.com")
os.environ.setdefault("POSTHOG_PROJECT_ID", "12345")
os.environ.setdefault("POSTHOG_API_KEY", "phx_testkey")
os.environ.setdefault("VISITORSYNC_TIMEZONE", "Europe/Berlin")
# The production profile redirects plain http to https and marks cookies secure; the test
# client and the browser tests speak plain http to 127.0.0.1. tests/test_production.py
# turns these on where it tests them.
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")

from visitorsync.settings import *  # noqa: F403
from visitorsync.settings import BASE_DIR, DATABASES, STORAGES

# The manifest storage needs `collectstatic` before any page renders; tests render pages
# without it (tests/test_production.py runs collectstatic for real).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so threads and processes in the tests share one database
    # the way webhook workers do in production.
    DATABASES["default"]["TEST"] = {"NAME": str(Path(BASE_DIR) / ".pytest-db.sqlite3")}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
