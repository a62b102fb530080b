"""A week's stored numbers and what the webhook keeps to count each event once."""

import hashlib
import re
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from metrics.core import weeks

KEY_BYTES = 16  # a delivery key and a visitor hash: 128 bits, no collision in any real table
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


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
    """One accepted webhook event, kept to recognise redeliveries (pruned with age).

    Stored compactly (bench/webhook_storage.py): the key is a uuid (16 bytes; on PostgreSQL
    its B-tree entries are 8 bytes smaller than a 16-byte bytea's) and the primary key, see
    `key_for`. `received_at` is the webhook-quiet alert's (metrics/reports/alerts.py); on
    PostgreSQL migration 0011 gives it a BRIN index (rows arrive in its order), which costs
    next to nothing per row where a B-tree would cost about 23 bytes.
    """

    key = models.UUIDField(primary_key=True, help_text="key_for(event uuid or webhook-id).")
    week_start = models.DateField(db_index=True)  # pruning deletes by week
    received_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Delivery {self.key} (week of {self.week_start})"

    @staticmethod
    def key_for(event_key: str) -> uuid.UUID:
        """The stored key of `event_key`: a canonical (lowercase, hyphenated) uuid itself, any
        other string the first 16 bytes of its UTF-8 sha256 read as a uuid. Deterministic, so
        a redelivery maps to the same key; migration 0011 keeps a copy of this rule."""
        if _CANONICAL_UUID.fullmatch(event_key):
            return uuid.UUID(event_key)
        return uuid.UUID(bytes=hashlib.sha256(event_key.encode()).digest()[:KEY_BYTES])


class WeekVisitor(models.Model):
    """A visitor already counted in a week, as a keyed hash (never the raw id): the first 16
    bytes of the HMAC-SHA256 metric_matches.visitor_hash computes. The primary key
    (week_start, visitor_hash) also serves pruning by week."""

    pk = models.CompositePrimaryKey("week_start", "visitor_hash")
    week_start = models.DateField()
    visitor_hash = models.BinaryField(max_length=KEY_BYTES)

    def __str__(self) -> str:
        return f"Visitor {bytes(self.visitor_hash)[:4].hex()}… in week of {self.week_start}"
