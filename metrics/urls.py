"""HTTP endpoints of the metrics app (webhook, cron, status)."""

from django.urls import path

from metrics import views

urlpatterns: list = [
    path("api/cron/sync-visitors", views.cron_sync_visitors, name="cron_sync_visitors"),
    path("api/sync", views.sync_status, name="sync_status"),
]
