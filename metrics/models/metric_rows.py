"""The definitions of the metrics a week holds."""

from django.db import models

from metrics.core.definition_fields import Better, Kind


class Metric(models.Model):
    """One metric's definition, by key: the stored form of metrics.core.definitions.MetricDefinition
    (metrics.catalog reads and writes it, checked). `visitors` and `pageviews` are built in (created
    by migration 0006): they count the events of VISITORSYNC_EVENT, so their `events` stay empty."""

    key = models.CharField(max_length=40, unique=True, help_text="Its name in the API and the CSV.")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=[(kind.value, kind.value) for kind in Kind])
    events = models.JSONField(default=list, blank=True, help_text="Event names (count, unique, sum).")
    properties = models.JSONField(
        default=list, blank=True, help_text="PostHog property filters, all must hold."
    )
    sum_property = models.CharField(max_length=1000, blank=True, help_text="The property a sum adds up.")
    numerator = models.CharField(max_length=40, blank=True)
    denominator = models.CharField(max_length=40, blank=True)
    unit = models.CharField(max_length=10, default="number", help_text="number, percent or a currency code.")
    target = models.FloatField(null=True, blank=True, help_text="Per week.")
    better = models.CharField(max_length=6, choices=[(b.value, b.value) for b in Better], default="higher")
    in_report = models.BooleanField(default=True)
    in_admin_list = models.BooleanField(default=True)
    order = models.IntegerField(default=0)
    drop_alert = models.FloatField(null=True, blank=True, help_text="Share of a drop that alerts.")
    restate_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When what it counts was defined or changed, until a sync of every week counts it anew.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"


class MetricValue(models.Model):
    """A user-defined metric's number for one week (count, unique or sum; a ratio is computed
    when read). The built-ins keep theirs on WeeklyMetric. `value` is live (PostHog's number at
    the last sync plus what webhooks added since); `posthog_value` is PostHog's number at the
    last sync (null: no sync has counted this metric in this week yet). No row: zero."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="values")
    week_start = models.DateField()
    value = models.FloatField(default=0)
    posthog_value = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["week_start", "metric"], name="metrics_metricvalue_unique")
        ]

    def __str__(self) -> str:
        return f"{self.metric_id} in week of {self.week_start}: {self.value:g}"
