"""Every error answered under `/api/` is the JSON error object, whatever failed.

The views answer their own errors with it (metrics.presentation.error_response). This
middleware covers what they cannot: a path under /api/ that does not exist (404), Django's
own refusals before a view runs (400 for a Host header not in ALLOWED_HOSTS, ...), and an
exception no view caught: the database failing or not answering (503 with Retry-After) or
anything unexpected (500). The body never holds the exception's text (a driver's message
names the database's host and port): the log does. The admin keeps Django's own pages.
"""

import json
import logging
from http import HTTPStatus

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from metrics.core import db_stall
from metrics.core.logsafe import loggable
from metrics.presentation import error_json, error_response

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "The database is unavailable right now; try again in a few seconds."
# Django's own error pages under /api/, by status; any other status says its name.
MESSAGES = {
    HTTPStatus.BAD_REQUEST: "Bad request: the server could not accept it (check its Host header and body).",
    HTTPStatus.FORBIDDEN: "Forbidden.",
    HTTPStatus.NOT_FOUND: "No such endpoint. The API's paths are listed at /api/openapi.json.",
    HTTPStatus.INTERNAL_SERVER_ERROR: "Internal error: the request failed on the server; its log says why.",
    HTTPStatus.SERVICE_UNAVAILABLE: DATABASE_UNAVAILABLE,
}


def is_api(request: HttpRequest) -> bool:
    return request.path_info == "/api" or request.path_info.startswith("/api/")


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: the JSON error object under /api/, a short page elsewhere (the admin)."""
    if is_api(request):
        response = error_response(HTTPStatus.SERVICE_UNAVAILABLE, DATABASE_UNAVAILABLE)
    else:
        response = HttpResponse(
            "<h1>Service Unavailable (503)</h1><p>The database is not answering; try again in a few "
            "seconds.</p>",
            status=HTTPStatus.SERVICE_UNAVAILABLE,
        )
    response["Retry-After"] = str(db_stall.RETRY_AFTER_SECONDS)
    return response


class ApiErrorsMiddleware:
    """Turns every error under /api/ that is not already JSON into the JSON error object."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not is_api(request) or response.status_code < 400 or response.streaming:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        # Rewritten in place: its other headers still hold, and Django knows it logged it.
        status = HTTPStatus(response.status_code)
        response.content = json.dumps(error_json(MESSAGES.get(status, f"{status.phrase}.")))
        response["Content-Type"] = "application/json"
        for header in ("Content-Disposition", "Content-Language"):
            if response.has_header(header):
                del response[header]
        if response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A database that failed or did not answer: 503 (a retry may work). Anything else goes
        on to Django, which logs it with its traceback and answers 500 (made JSON above)."""
        if not is_api(request) or not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error(
            "%s %s answered 503, the database failed: %s",
            request.method,
            loggable(request.path),
            loggable(exception),
        )
        return database_unavailable(request)
