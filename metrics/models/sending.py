"""What was sent: weekly report deliveries, alerts and their deliveries."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


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

    At most one open row (resolved_at null) per kind and subject: the per-metric kinds (a drop,
    off target) name their metric's key in `subject`; every other kind has an empty one, so
    it stays one open row per kind. Its messages ("start", "resolved") on
    each channel are `AlertDelivery` rows; a channel without a sent one is retried at the
    next check.
    """

    class Kind(models.TextChoices):
        SYNC_FAILED = "sync_failed", "Sync failed"
        STALE = "stale", "No successful sync"
        WEBHOOK_QUIET = "webhook_quiet", "Webhook quiet"
        DROP = "drop", "Sharp drop in visitors"
        METRIC_DROP = "metric_drop", "Sharp drop in a metric"
        OFF_TARGET = "off_target", "Metric off target"
        # Not a condition: the admin's "Send a test alert" records one, resolved at once and
        # never retried by `deliver_pending`.
        TEST = "test", "Test alert"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    subject = models.CharField(
        max_length=40,
        blank=True,
        default="",
        help_text="The metric's key (per-metric alerts); empty otherwise.",
    )
    message = models.TextField()
    started_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, help_text="Why the last notification attempt failed.")

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject"],
                condition=Q(resolved_at__isnull=True),
                name="metrics_alert_one_open",
            )
        ]

    def __str__(self) -> str:
        return f"{self.label} since {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def label(self) -> str:
        """What the alert is about: its kind, and the metric for a per-metric one."""
        return f"{self.get_kind_display()}: {self.subject}" if self.subject else self.get_kind_display()

    def sent_by_phase(self) -> dict[str, list[str]]:
        """Phase -> the channels its message went out on (reads prefetched `deliveries`)."""
        sent: dict[str, list[str]] = {}
        for delivery in self.deliveries.all():
            if delivery.status == AlertDelivery.Status.SENT:
                sent.setdefault(delivery.phase, []).append(delivery.channel)
        return sent


class AlertDelivery(models.Model):
    """One message of an alert (its start or its resolution) on one channel.

    One row per alert, phase and channel (a unique constraint): inserting it claims the send,
    so concurrent alert checks send each message once. A failed row is taken over by the next
    check, as is a `sending` row whose sender died (metrics.reports.claims).
    """

    class Status(models.TextChoices):
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    class Phase(models.TextChoices):
        START = "start", "Started"
        RESOLVED = "resolved", "Resolved"

    class Channel(models.TextChoices):
        MAIL = "mail", "Mail"
        WEBHOOK = "webhook", "Webhook"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    phase = models.CharField(max_length=10, choices=Phase.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENDING)
    claimed_at = models.DateTimeField(default=timezone.now, help_text="When its sender took it.")
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["alert", "phase", "channel"]
        verbose_name_plural = "alert deliveries"
        constraints = [
            models.UniqueConstraint(fields=["alert", "phase", "channel"], name="metrics_alertdelivery_once")
        ]

    def __str__(self) -> str:
        return f"{self.alert} ({self.phase}) by {self.channel}: {self.get_status_display()}"
