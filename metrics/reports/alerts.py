"""Alerts: each condition is sent once when it starts and once "resolved" when it clears.

State lives in `Alert` rows (one open row per kind, and per metric for the per-metric kinds of
metrics.reports.metric_alerts). `check()` runs after every sync and every
report (`metrics.jobs` calls `check_after_sync`, whatever door started it); it opens and
resolves alerts, then sends every message not yet delivered on each configured channel
(mail to VISITORSYNC_ALERT_RECIPIENTS, the VISITORSYNC_ALERT_WEBHOOK_URL webhook). Each
message on each channel is an `AlertDelivery` row, claimed before the send
(metrics.reports.claims), so concurrent checks send it once. A channel that fails is recorded
on its row and retried at the next check; nothing here raises.
"""

import datetime as dt
import logging
from collections.abc import Mapping

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone

from metrics import numbers
from metrics.core import schedule, weeks
from metrics.core.errors import MailNotConfigured, VisitorsyncError, WebhookNotSent
from metrics.core.logsafe import loggable
from metrics.models import Alert, AlertDelivery, SyncRun, WebhookDelivery
from metrics.reports import alert_webhook, claims, mail
from metrics.reports.metric_alerts import Condition, metric_conditions
from metrics.reports.weekly import admin_url, last_complete_week

logger = logging.getLogger(__name__)

START, RESOLVED = AlertDelivery.Phase.START.value, AlertDelivery.Phase.RESOLVED.value
# AlertDelivery's claim time (metrics.reports.claims).
CLAIMED = "claimed_at"
# A message that could not be delivered is retried at each check for this long after its
# alert resolved (a channel configured later does not receive old history).
RETRY_FOR = dt.timedelta(days=7)


def channels() -> list[str]:
    """The configured channels: "mail" with alert recipients, "webhook" with a URL."""
    found = []
    if settings.VISITORSYNC_ALERT_RECIPIENTS:
        found.append(AlertDelivery.Channel.MAIL.value)
    if alert_webhook.webhook_configured():
        found.append(AlertDelivery.Channel.WEBHOOK.value)
    return found


def check_after_sync() -> None:
    """What a job calls when a sync has finished or failed: `check()`, never raising."""
    try:
        check()
    except Exception:
        # The sync's outcome is recorded already; an alert problem must not change it.
        logger.exception("alert check after a sync failed; it runs again at the next sync")


def check(*, now: dt.datetime | None = None) -> list[Alert]:
    """Evaluate every condition, open/resolve alerts, and deliver pending messages."""
    now = now or timezone.now()
    # Every open alert in one query, whatever the number of metrics; `_apply` looks each
    # condition's up here. A row another check opens meanwhile is caught by the one-open-alert
    # constraint, a row it resolves by the conditional update: each still starts once.
    open_alerts = {
        (alert.kind, alert.subject): alert for alert in Alert.objects.filter(resolved_at__isnull=True)
    }
    for condition in conditions(now=now, open_alerts=open_alerts):
        _apply(condition, now=now, open_alert=open_alerts.get((condition.kind, condition.subject)))
    return deliver_pending()


def conditions(
    *, now: dt.datetime, open_alerts: Mapping[tuple[str, str], Alert] | None = None
) -> list[Condition]:
    """Each alert kind (per metric for the per-metric ones) with whether it holds now, and its
    message when it does; `open_alerts`: every open alert by (kind, subject), read here when
    not given."""
    # The numbers' week is the real clock's, as it always was: `now` moves only
    # the time-based conditions, so a test can age a sync without moving the weeks.
    week_start = last_complete_week()
    table = numbers.read_range(week_start, week_start)  # the week and the one before
    found = {
        Alert.Kind.SYNC_FAILED: _sync_failed(),
        Alert.Kind.STALE: _stale(now),
        Alert.Kind.WEBHOOK_QUIET: _webhook_quiet(now),
        Alert.Kind.DROP: _drop(table.week(week_start), week_start),
    }
    if open_alerts is None:
        open_alerts = {
            (alert.kind, alert.subject): alert for alert in Alert.objects.filter(resolved_at__isnull=True)
        }
    per_metric = [key for key in open_alerts if key[0] in (Alert.Kind.METRIC_DROP, Alert.Kind.OFF_TARGET)]
    return [Condition(kind, message is not None, message or "") for kind, message in found.items()] + (
        metric_conditions(table, week_start, open_alerts=per_metric)
    )


def send_test_alert() -> dict[str, str]:
    """Send a test message on every channel; returns channel -> "sent" or the error ({} when
    no channel is configured: nothing is recorded)."""
    if not channels():
        return {}
    alert = Alert.objects.create(
        kind=Alert.Kind.TEST,
        message="This is a test alert from visitorsync's admin: alerts reach you here.",
        resolved_at=timezone.now(),
    )
    return _send(alert, START)


def deliver_pending() -> list[Alert]:
    """Send every message a channel has not delivered yet; returns the alerts tried."""
    tried = []
    for alert, phase in undelivered():
        _send(alert, phase)
        if not tried or tried[-1] is not alert:
            tried.append(alert)
    return tried


def undelivered() -> list[tuple[Alert, str]]:
    """Each (alert, phase) whose message a configured channel has not sent yet (including one
    another check is sending right now), oldest alert first."""
    wanted = channels()
    if not wanted:
        return []
    recent = Q(resolved_at__isnull=True) | Q(resolved_at__gte=timezone.now() - RETRY_FOR)
    found = []
    for alert in (
        Alert.objects.filter(recent)
        .exclude(kind=Alert.Kind.TEST)
        .order_by("started_at", "id")
        .prefetch_related("deliveries")
    ):
        sent = alert.sent_by_phase()
        for phase in (START, RESOLVED) if alert.resolved_at else (START,):
            if any(channel not in sent.get(phase, []) for channel in wanted):
                found.append((alert, phase))
    return found


# --- Conditions -------------------------------------------------------------------------------
# Each returns the alert's message while its condition holds, else None.
def _sync_failed() -> str | None:
    last = (
        SyncRun.objects.filter(dry_run=False)
        .exclude(status=SyncRun.Status.RUNNING)
        .order_by("-finished_at", "-id")
        .first()
    )
    if last is None or last.status != SyncRun.Status.FAILED:
        return None
    link = admin_url(reverse("admin:metrics_syncrun_change", args=[last.pk]))
    return f"Sync #{last.pk} ({last.get_trigger_display()}) failed: {last.error} Run: {link}"


def _stale(now: dt.datetime) -> str | None:
    """No successful sync within twice the schedule interval, once there has been one
    (before the first success, the failed-sync alert and /api/sync speak)."""
    last = SyncRun.objects.filter(dry_run=False, status=SyncRun.Status.SUCCEEDED).aggregate(
        last=Max("finished_at")
    )["last"]
    limit = schedule.stale_after()
    if last is None or now - last <= limit:
        return None
    return (
        f"No successful sync since {timezone.localtime(last):%Y-%m-%d %H:%M %Z}, more than "
        f"{limit} ago (twice VISITORSYNC_CRON_SCHEDULE's interval): the numbers are getting out "
        f"of date. Sync page: {admin_url(reverse('admin:metrics_weeklymetric_sync'))}"
    )


def _webhook_quiet(now: dt.datetime) -> str | None:
    hours = settings.VISITORSYNC_ALERT_QUIET_HOURS
    last = _last_delivery(now, within=dt.timedelta(hours=hours))
    if last is None or now - last <= dt.timedelta(hours=hours):
        return None
    return (
        f"No webhook delivery from PostHog since {timezone.localtime(last):%Y-%m-%d %H:%M %Z} "
        f"(more than {hours:g} hours, VISITORSYNC_ALERT_QUIET_HOURS). Check the HTTP Webhook "
        "destination in PostHog and that the site still sends events."
    )


def _last_delivery(now: dt.datetime, *, within: dt.timedelta) -> dt.datetime | None:
    """When the newest webhook delivery was received. Looked for in windows back from `now`
    that grow fourfold (`within` first), so only the rows of the window that finds it are
    read: on PostgreSQL received_at's BRIN index (migration 0011) skips older pages, where an
    unbounded Max(received_at) would read weeks of rows. Past the retention window (where a
    sync prunes), the last look has no bound."""
    horizon = weeks.ONE_WEEK * (settings.VISITORSYNC_WEBHOOK_RETENTION_WEEKS + 1)
    window = within
    while True:
        rows = WebhookDelivery.objects.all()
        if window < horizon:
            rows = rows.filter(received_at__gte=now - window)
        last = rows.aggregate(last=Max("received_at"))["last"]
        if last is not None or window >= horizon:
            return last
        window *= 4


def _drop(week: numbers.Week | None, week_start: dt.date) -> str | None:
    change = week.change("visitors") if week is not None else None
    share = settings.VISITORSYNC_ALERT_DROP
    if change is None or -change <= share:
        return None
    return (
        f"Visitors in the week of {week_start} fell to {week.value('visitors'):,} from "
        f"{week.previous('visitors'):,} the week before "
        f"({change * 100:+.0f}%, more than VISITORSYNC_ALERT_DROP={share:g}). "
        f"Weeks: {admin_url(reverse('admin:metrics_weeklymetric_changelist'))}"
    )


# --- State and delivery -----------------------------------------------------------------------
def _apply(condition: Condition, *, now: dt.datetime, open_alert: Alert | None) -> None:
    """Open the condition's alert when it holds and none is open (`open_alert`, read by the
    check), resolve it when it cleared."""
    kind, subject = condition.kind, condition.subject
    name = f"{kind} {subject}".strip()
    if condition.active and open_alert is None:
        try:
            with transaction.atomic():
                Alert.objects.create(kind=kind, subject=subject, message=condition.message, started_at=now)
        except IntegrityError:
            pass  # another check opened it at the same moment
        else:
            logger.warning("alert %s started: %s", name, loggable(condition.message))
    elif (
        not condition.active
        and open_alert is not None
        and Alert.objects.filter(pk=open_alert.pk, resolved_at__isnull=True).update(resolved_at=now)
    ):
        logger.info("alert %s resolved", name)


def _text(alert: Alert, phase: str) -> tuple[str, str]:
    label = alert.label
    if phase == RESOLVED:
        return (
            f"[visitorsync] Resolved: {label}",
            f"Resolved at {timezone.localtime(alert.resolved_at):%Y-%m-%d %H:%M %Z}: {label}.\n"
            f"It started at {timezone.localtime(alert.started_at):%Y-%m-%d %H:%M %Z}: {alert.message}",
        )
    return f"[visitorsync] {label}", alert.message


def _send(alert: Alert, phase: str) -> dict[str, str]:
    """Send one phase of an alert on each channel whose delivery this check can claim (none
    already sent it or is sending it); returns channel -> "sent" or the error."""
    subject, text = _text(alert, phase)
    results, errors = {}, []
    for channel in channels():
        delivery = claims.claim(
            AlertDelivery, key={"alert": alert, "phase": phase, "channel": channel}, claimed_field=CLAIMED
        )
        if delivery is None:
            continue
        try:
            if channel == AlertDelivery.Channel.MAIL:
                mail.send_alert_mail(subject=subject, text=text)
            else:
                alert_webhook.post_text(f"{subject}\n{text}")
        except (WebhookNotSent, MailNotConfigured, *mail.MAIL_ERRORS) as err:
            # Our own errors are worded for the reader; a mail server's needs its type to make sense.
            detail = str(err) if isinstance(err, VisitorsyncError) else f"{type(err).__name__}: {err}"
            error = f"{channel}: {detail}"[:500]
            claims.record(delivery, claimed_field=CLAIMED, error=error)
            errors.append(error)
            results[channel] = error
            logger.error("alert %s (%s) not sent by %s: %s", alert.kind, phase, channel, loggable(detail))
            continue
        except BaseException:
            # Not a channel's failure (a bug, an interrupt): the row must not stay "sending".
            claims.record(delivery, claimed_field=CLAIMED, error=f"{channel}: the send crashed (see the log)")
            raise
        claims.record(delivery, claimed_field=CLAIMED)
        results[channel] = "sent"
    if results:
        alert.last_error = "; ".join(errors)
        Alert.objects.filter(pk=alert.pk).update(last_error=alert.last_error)
    return results
