"""The template context that shows the "Demo data" banner on every admin page."""

from django.conf import settings
from django.http import HttpRequest


def demo(request: HttpRequest) -> dict[str, bool]:
    return {"visitorsync_demo": settings.VISITORSYNC_DEMO}
