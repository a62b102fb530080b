"""The OpenAPI document (`/api/openapi.json`) that describes every endpoint, served from
docs/openapi.json, its one source."""

import functools
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from metrics.http.database_wait import own_database_wait
from metrics.http.params import allow_methods

OPENAPI_DOCUMENT = Path(settings.BASE_DIR) / "docs" / "openapi.json"


@functools.cache
def _openapi_bytes() -> bytes:
    return OPENAPI_DOCUMENT.read_bytes()


@csrf_exempt  # so another method gets the JSON 405, not the CSRF failure page
@own_database_wait  # it never touches the database, so it is served while the database is stalled
@allow_methods("GET")
def openapi_document(request: HttpRequest) -> HttpResponse:
    """The OpenAPI 3.1 description of these endpoints, served from docs/openapi.json (its one source)."""
    return HttpResponse(_openapi_bytes(), content_type="application/json")
