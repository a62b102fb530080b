"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "visitorsync.settings")

application = get_asgi_application()

# As in wsgi.py: ASGI servers run no system checks either.
from metrics.settings_checks import stop_on_settings_errors  # noqa: E402 - needs the apps loaded

stop_on_settings_errors()
