"""One row per sync attempt, whatever started it: its lock, progress and outcome."""

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils import timezone


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

    # The phase of a run presumed dead (its heartbeat stopped): recorded failed, never retried.
    ABANDONED_PHASE = "Abandoned"

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

    @property
    def abandoned(self) -> bool:
        """Recorded failed because its heartbeat stopped: its process died or hung."""
        return self.status == self.Status.FAILED and self.phase == self.ABANDONED_PHASE
