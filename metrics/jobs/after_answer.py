"""Work a door does once its answer is out: the alert check after a sync, a report's sends.

Mail and webhooks have their own deadlines (EMAIL_TIMEOUT, VISITORSYNC_ALERT_WEBHOOK_TIMEOUT),
but a door's caller (a scheduler, PostHog, a person in the admin) should not wait for them at
all. An HTTP door attaches the work to its response, which runs it when the server closes the
response, after the body was sent (WSGI's close(); Django's test client closes too, so tests
see it done when the request returns). A command prints its result, then runs the work.
"""

import logging
from collections.abc import Callable

from django.http import HttpResponseBase

from metrics.core.logsafe import loggable

logger = logging.getLogger(__name__)


class AfterAnswer:
    """A list of callables, run once, in order, each on its own: one that raises is logged and
    the rest still run (the answer is out; nothing is left to tell the caller)."""

    def __init__(self) -> None:
        self._work: list[Callable[[], object]] = []

    def add(self, work: Callable[[], object]) -> None:
        self._work.append(work)

    def attach(self, response: HttpResponseBase) -> HttpResponseBase:
        """Run the work when `response` is closed, after its body was sent; returns it."""
        if self._work:
            # Django closes these after the server is done with the response (the same list
            # a FileResponse's file is closed through).
            response._resource_closers.append(self.run)
        return response

    def run(self) -> None:
        work, self._work = self._work, []
        for job in work:
            try:
                job()
            except Exception as err:
                logger.exception("work after the answer failed: %s", loggable(f"{type(err).__name__}: {err}"))
