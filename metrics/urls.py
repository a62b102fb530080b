"""HTTP endpoints of the metrics app (webhook, cron, status, stats, the OpenAPI document)."""

from django.urls import path, re_path

from metrics import api, views

urlpatterns: list = [
    # With or without the trailing slash: PostHog does not follow redirects.
    re_path(r"^api/webhooks/posthog/?$", views.posthog_webhook, name="posthog_webhook"),
    path("api/cron/sync-visitors", views.cron_sync_visitors, name="cron_sync_visitors"),
    path("api/sync", views.sync_status, name="sync_status"),
    path("api/stats/weekly", api.weekly_stats, name="weekly_stats"),
    path("api/openapi.json", api.openapi_document, name="openapi_document"),
]
