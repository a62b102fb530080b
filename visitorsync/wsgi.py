"""WSGI entry point (gunicorn visitorsync.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "visitorsync.settings")

application = get_wsgi_application()

# gunicorn runs no system checks: refuse to serve with a value the app must not run with
# (a wrong week start would count every week wrong), as `manage.py` commands do.
from metrics.settings_checks import stop_on_settings_errors  # noqa: E402 - needs the apps loaded

stop_on_settings_errors()
