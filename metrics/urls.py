"""HTTP endpoints of the metrics app (webhook, cron, status, stats, the OpenAPI document)."""

from django.urls import path, re_path

from metrics.http import cron, openapi, posthog_webhook, stats_api, sync_status

urlpatterns: list = [
    # With or without the trailing slash: PostHog does not follow redirects.
    re_path(r"^api/webhooks/posthog/?$", posthog_webhook.posthog_webhook, name="posthog_webhook"),
    path("api/cron/sync-visitors", cron.cron_sync_visitors, name="cron_sync_visitors"),
    path("api/sync", sync_status.sync_status, name="sync_status"),
    path("api/stats/weekly", stats_api.weekly_stats, name="weekly_stats"),
    path("api/openapi.json", openapi.openapi_document, name="openapi_document"),
]
