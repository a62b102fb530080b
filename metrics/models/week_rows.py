"""A week's stored numbers and what the webhook keeps to count each event once."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from metrics.core import weeks


class WeeklyMetric(models.Model):
    """The numbers of one week. `visitors`/`pageviews` are live (PostHog + webhooks since)."""

    week_start = models.DateField(
        unique=True, help_text="First day of the week, in the configured time zone."
    )
    visitors = models.PositiveBigIntegerField(default=0, help_text="Unique visitors (live).")
    pageviews = models.PositiveBigIntegerField(default=0, help_text="Pageviews (live).")
    posthog_visitors = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Unique visitors PostHog reported at the last sync."
    )
    posthog_pageviews = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Pageviews PostHog reported at the last sync."
    )
    synced_at = models.DateTimeField(
        null=True, blank=True, help_text="When PostHog last confirmed this week."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-week_start"]
        permissions = [("sync_weeklymetric", "Can start a sync with PostHog")]

    def __str__(self) -> str:
        return f"Week of {self.week_start:%Y-%m-%d}"

    def clean(self) -> None:
        if self.week_start and not weeks.is_week_start(self.week_start):
            raise ValidationError(
                {
                    "week_start": (
                        f"{self.week_start:%Y-%m-%d} is a {self.week_start:%A}; weeks start on "
                        f"{weeks.week_start_for_date(self.week_start):%A}s "
                        "(VISITORSYNC_WEEK_START)."
                    )
                }
            )


class WebhookDelivery(models.Model):
    """One accepted webhook event, kept to recognise redeliveries (pruned with age)."""

    key = models.CharField(max_length=255, unique=True, help_text="Event uuid or webhook-id.")
    week_start = models.DateField(db_index=True)
    received_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Delivery {self.key} (week of {self.week_start})"


class WeekVisitor(models.Model):
    """A visitor already counted in a week, as a keyed hash (never the raw id)."""

    week_start = models.DateField()
    visitor_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["week_start", "visitor_hash"], name="metrics_weekvisitor_unique")
        ]

    def __str__(self) -> str:
        return f"Visitor {self.visitor_hash[:8]}… in week of {self.week_start}"
