"""The sync page's buttons (test connection, test report, test alert): POST only, and only for
staff who may start a sync."""

import functools
from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST


def sync_button(view: Callable) -> Callable:
    """Wrap a button's view method: 405 for a method other than POST, then 403 without
    "Can start a sync with PostHog" (`model_admin.has_sync_permission`)."""

    @functools.wraps(view)
    def wrapper(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not self.model_admin.has_sync_permission(request):
            raise PermissionDenied
        return view(self, request, *args, **kwargs)

    return method_decorator(require_POST)(wrapper)
