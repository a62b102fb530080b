"""HTTP endpoints of the metrics app (webhook, cron, status)."""

urlpatterns: list = []
