from django.apps import AppConfig


class MetricsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "metrics"
    verbose_name = "Visitor metrics"

    def ready(self) -> None:
        from metrics import checks  # noqa: F401 - registers the system checks
