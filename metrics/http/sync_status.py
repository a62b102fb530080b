"""The status door (`/api/sync`): integration health for monitors and the admin page."""

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from metrics import jobs
from metrics.core import secrets
from metrics.http.params import allow_methods
from metrics.presentation import status_json


@csrf_exempt  # so another method gets the JSON 405, not the CSRF failure page
@never_cache
@allow_methods("GET")
def sync_status(request: HttpRequest) -> JsonResponse:
    """Integration health for monitors and the admin page, in a fixed number of queries.

    Open to anyone: booleans, counts, dates and run outcomes only, never a secret, a setting's
    value or a visitor. The text of the last error (which can name the PostHog host, project
    or event) is added only for a caller that presents a cron secret.
    """
    trusted = secrets.secret_matches(secrets.bearer_token(request), secrets.cron_secrets())
    return JsonResponse(
        status_json(jobs.get_sync_status(), schedule=settings.VISITORSYNC_CRON_SCHEDULE, trusted=trusted)
    )
