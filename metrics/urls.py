"""HTTP endpoints of the metrics app (webhook, cron, status)."""

from django.urls import re_path

from metrics import views

urlpatterns: list = [
    # With or without the trailing slash: PostHog does not follow redirects.
    re_path(r"^api/webhooks/posthog/?$", views.posthog_webhook, name="posthog_webhook"),
]
