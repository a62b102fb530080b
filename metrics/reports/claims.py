"""Claiming a send before making it, so each message goes out once however many senders race.

A delivery row (`ReportDelivery`, `AlertDelivery`) is unique per message. A sender inserts it
as `sending` first: the insert that loses on the unique constraint means another sender has
the message. A `failed` row, or a `sending` one older than ABANDON_AFTER (its sender died
mid-send), is taken over by one conditional UPDATE on the claim it found, which only one
sender can win. Every send ends within its own deadline (EMAIL_TIMEOUT,
VISITORSYNC_ALERT_WEBHOOK_TIMEOUT), far below ABANDON_AFTER, so a live send is never taken
over; its outcome is recorded only while the claim is still its own.
"""

import datetime as dt
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

# A delivery still "sending" after this long belongs to a sender that died: taken over.
ABANDON_AFTER = dt.timedelta(minutes=15)
SENDING, SENT, FAILED = "sending", "sent", "failed"


def claim(model: type[models.Model], *, key: dict[str, Any], claimed_field: str) -> Any | None:
    """The `model` row for `key` this sender now owns (status `sending`, `claimed_field` set to
    now), or None when the message was sent or another live sender has it."""
    now = timezone.now()
    try:
        with transaction.atomic():
            return model.objects.create(**key, status=SENDING, **{claimed_field: now})
    except IntegrityError:
        pass  # the row exists: sent, failed, or being sent
    row = model.objects.filter(**key).first()
    if row is None or row.status == SENT:
        return None
    claimed = getattr(row, claimed_field)
    if row.status == SENDING and claimed > now - ABANDON_AFTER:
        return None  # another sender is on it
    taken = model.objects.filter(pk=row.pk, status=row.status, **{claimed_field: claimed}).update(
        status=SENDING, error="", **{claimed_field: now}
    )
    if not taken:
        return None  # another sender took it over first
    row.status, row.error = SENDING, ""
    setattr(row, claimed_field, now)
    return row


def record(row: Any, *, claimed_field: str, error: str = "", **fields: Any) -> bool:
    """Record the send of a claimed row: sent (no `error`) or failed. False when the claim was
    no longer this sender's (taken over), so nothing is overwritten."""
    status = FAILED if error else SENT
    sent_at = timezone.now() if status == SENT else None
    updated = (
        type(row)
        .objects.filter(pk=row.pk, status=SENDING, **{claimed_field: getattr(row, claimed_field)})
        .update(status=status, error=error, sent_at=sent_at, **fields)
    )
    row.status, row.error, row.sent_at = status, error, sent_at
    for name, value in fields.items():
        setattr(row, name, value)
    return bool(updated)
