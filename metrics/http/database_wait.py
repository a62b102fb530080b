"""A bounded wait on the database for every request (VISITORSYNC_REQUEST_DB_TIMEOUT), and a fast
503 for requests that need it while it is known not to answer (metrics/core/db_stall.py).

Without them a database that accepts packets but never answers holds each request that
touches it, and enough of those hold every server thread: a webhook delivery then gets no
answer at all. The webhook keeps its own, longer limit on its whole delivery
(VISITORSYNC_WEBHOOK_DB_TIMEOUT, in the tracker), and so is left alone here.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from metrics.core import db_stall
from metrics.core.db_deadline import RequestDeadline
from metrics.http.api_errors import database_unavailable


def own_database_wait(view: Callable) -> Callable:
    """Mark a view that bounds its own database wait (the webhook) or never waits on the
    database (the OpenAPI document): no request deadline, no fast 503 while stalled."""
    view.own_database_wait = True
    return view


def _stalled_by_deadline() -> None:
    db_stall.enter("a request's wait ran out VISITORSYNC_REQUEST_DB_TIMEOUT")


class DatabaseWaitMiddleware:
    """Each request's every wait for the database's answer ends after VISITORSYNC_REQUEST_DB_TIMEOUT
    seconds (PostgreSQL); while the database is stalled, a view that needs it is not run."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with RequestDeadline(
            settings.VISITORSYNC_REQUEST_DB_TIMEOUT,
            setting="VISITORSYNC_REQUEST_DB_TIMEOUT",
            on_expiry=_stalled_by_deadline,
        ) as deadline:
            request.database_deadline = deadline
            return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        if getattr(view_func, "own_database_wait", False):
            request.database_deadline.stop()
            return None
        if db_stall.stalled() or not request.database_deadline.check_connection():
            return database_unavailable(request)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if db_stall.timed_out(exception):
            db_stall.enter("opening a connection ran out DATABASE_CONNECT_TIMEOUT")
