"""What visitorsync stores: one row per week, one row per sync attempt, webhook dedup keys, and the
definitions of the metrics."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from metrics.core import weeks
from metrics.core.definition_fields import Better, Kind


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


class SyncRun(models.Model):
    """One attempt to sync with PostHog, whatever started it.

    At most one row is `running` at a time (a partial unique constraint): inserting the
    row is how a sync takes the lock, on SQLite and PostgreSQL alike, across processes
    and hosts that share the database.
    """

    class Trigger(models.TextChoices):
        COMMAND = "command", "Management command"
        CRON = "cron", "Cron endpoint"
        ADMIN = "admin", "Admin page"
        ADMIN_ACTION = "admin_action", "Admin action"
        CRONTAB = "crontab", "Crontab job"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_by = models.CharField(max_length=150, blank=True, help_text="User, if any.")
    dry_run = models.BooleanField(default=False)
    forced = models.BooleanField(default=False)
    first_week = models.DateField(null=True, blank=True)
    last_week = models.DateField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    phase = models.CharField(max_length=100, blank=True)
    weeks_total = models.PositiveIntegerField(default=0)
    weeks_done = models.PositiveIntegerField(default=0)
    weeks_checked = models.PositiveIntegerField(default=0)
    weeks_created = models.PositiveIntegerField(default=0)
    weeks_updated = models.PositiveIntegerField(default=0)
    weeks_unchanged = models.PositiveIntegerField(default=0)
    queries = models.PositiveIntegerField(default=0, help_text="PostHog queries spent.")
    chunk_weeks = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Set when PostHog found a range too heavy and the sync split it: the weeks per "
        "query that worked, where the next syncs start for 7 days.",
    )
    error = models.TextField(blank=True)
    changes = models.JSONField(
        default=list,
        blank=True,
        help_text="Per-week changes: week, visitors and pageviews before and after.",
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=Q(status="running"),
                name="metrics_syncrun_one_running",
            )
        ]
        indexes = [models.Index(fields=["status", "-started_at"])]

    def __str__(self) -> str:
        return f"Sync #{self.pk} ({self.get_trigger_display()}, {self.get_status_display()})"

    @property
    def duration(self) -> dt.timedelta | None:
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at


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


class ReportDelivery(models.Model):
    """One weekly report to one recipient: what was sent to whom and when (or why it failed).

    At most one unforced row per week and recipient (a partial unique constraint): inserting it
    claims the sending, so two senders at once send the report once.
    """

    class Status(models.TextChoices):
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    week_start = models.DateField()
    recipient = models.EmailField(max_length=254)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENDING)
    subject = models.CharField(max_length=200, blank=True)
    forced = models.BooleanField(default=False, help_text="Sent again on request (--force, test report).")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "report deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["week_start", "recipient"],
                condition=Q(forced=False),
                name="metrics_reportdelivery_once",
            )
        ]

    def __str__(self) -> str:
        return f"Report for week of {self.week_start} to {self.recipient} ({self.get_status_display()})"


class Alert(models.Model):
    """One occurrence of an alert condition, from when it started until it cleared.

    At most one open row (resolved_at null) per kind. `notified` records, per phase ("start",
    "resolved") and channel ("mail", "webhook"), when the message went out; a channel missing
    there is retried at the next check.
    """

    class Kind(models.TextChoices):
        SYNC_FAILED = "sync_failed", "Sync failed"
        STALE = "stale", "No successful sync"
        WEBHOOK_QUIET = "webhook_quiet", "Webhook quiet"
        DROP = "drop", "Sharp drop in visitors"
        # Not a condition: the admin's "Send a test alert" records one, resolved at once and
        # never retried by `deliver_pending`.
        TEST = "test", "Test alert"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    message = models.TextField()
    started_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    notified = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True, help_text="Why the last notification attempt failed.")

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"], condition=Q(resolved_at__isnull=True), name="metrics_alert_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} since {self.started_at:%Y-%m-%d %H:%M}"


class Metric(models.Model):
    """One metric's definition, by key: the stored form of metrics.core.definitions.MetricDefinition
    (metrics.catalog reads and writes it, checked). `visitors` and `pageviews` are built in (created
    by migration 0005): they count the events of VISITORSYNC_EVENT, so their `events` stay empty."""

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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"
