"""The site's front door (`/`): what this server is and where to go, for a person who opens it.

Static: it touches neither the database nor PostHog, so it answers whatever their state.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """A short page naming the admin and the API endpoints (the admin's "View site" leads here)."""
    return render(request, "metrics/home.html")
