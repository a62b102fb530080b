"""Selectors: the integration's status, a run, and what a run changed.

They read, except for one thing: a running sync whose heartbeat is older than the abandon
limit is recorded abandoned (failed) by whoever reads it first (`lock.abandon_if_dead`), so
no page or monitor shows a dead run as running.
"""

import dataclasses
import datetime as dt
import re

from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from metrics.core import schedule, secrets
from metrics.models import SyncRun, WeeklyMetric
from metrics.posthog import PostHogConfig
from metrics.tracker import lock
from metrics.tracker.changes import WeekChange

_SETTING_NAME = re.compile(r"[A-Z][A-Z0-9_]+")


@dataclasses.dataclass(frozen=True)
class SyncStatus:
    posthog_problems: list[str]
    missing_settings: list[str]
    webhook_problems: list[str]  # a webhook secret is set but unusable: every delivery is refused
    running: SyncRun | None
    last_run: SyncRun | None
    last_success: SyncRun | None
    success_count: int
    failure_count: int
    weeks_stored: int
    newest_week: dt.date | None
    oldest_week: dt.date | None
    stale: bool  # no successful sync within twice the schedule interval
    abandoned: bool  # the last finished run was abandoned: its process died, nothing retries it
    stale_after: dt.timedelta
    cron_secret_configured: bool
    webhook_secret_configured: bool

    @property
    def posthog_configured(self) -> bool:
        return not self.posthog_problems

    @property
    def settings_to_fix(self) -> list[str]:
        """Names (never values) of the settings a problem is about, each once, in order.

        Every problem message starts with the setting it is about (metrics.posthog.config,
        metrics.core.counting), so the name is public even where the message quotes a value.
        """
        names = (_SETTING_NAME.match(problem) for problem in self.posthog_problems)
        return list(dict.fromkeys(match.group(0) for match in names if match))

    @property
    def healthy(self) -> bool:
        """What a monitor alerts on: syncing can work, has worked lately, the last sync's process
        did not die, and no door is shut."""
        return self.posthog_configured and not self.stale and not self.abandoned and not self.webhook_problems


def get_sync_status() -> SyncStatus:
    """Configuration state and sync history, in a fixed number of queries (one more when it
    records a dead run abandoned)."""
    config = PostHogConfig.from_settings()
    webhook = secrets.WebhookConfig.from_settings()
    # First, so a dead run counts as the failed last run it is, not as running.
    running = SyncRun.objects.filter(status=SyncRun.Status.RUNNING).first()
    if running is not None:
        lock.abandon_if_dead(running)
        running = running if running.status == SyncRun.Status.RUNNING else None
    last_run = SyncRun.objects.exclude(status=SyncRun.Status.RUNNING).first()
    real_runs = SyncRun.objects.filter(dry_run=False)
    counts = real_runs.aggregate(
        succeeded=Count("id", filter=Q(status=SyncRun.Status.SUCCEEDED)),
        failed=Count("id", filter=Q(status=SyncRun.Status.FAILED)),
    )
    stored = WeeklyMetric.objects.aggregate(
        count=Count("id"), newest=Max("week_start"), oldest=Min("week_start")
    )
    last_success = real_runs.filter(status=SyncRun.Status.SUCCEEDED).first()
    stale_after = schedule.stale_after()
    return SyncStatus(
        posthog_problems=config.problems(),
        missing_settings=config.missing_settings,
        webhook_problems=list(webhook.problems),
        running=running,
        last_run=last_run,
        last_success=last_success,
        success_count=counts["succeeded"],
        failure_count=counts["failed"],
        weeks_stored=stored["count"],
        newest_week=stored["newest"],
        oldest_week=stored["oldest"],
        stale=last_success is None or timezone.now() - last_success.finished_at > stale_after,
        abandoned=last_run is not None and last_run.abandoned,
        stale_after=stale_after,
        cron_secret_configured=bool(secrets.cron_secrets()),
        webhook_secret_configured=webhook.usable,
    )


def get_run(run_id: int) -> SyncRun | None:
    """The run with this id (None if there is none), recorded abandoned first if it is dead."""
    run = SyncRun.objects.filter(pk=run_id).first()
    if run is not None:
        lock.abandon_if_dead(run)
    return run


def record_abandoned_runs() -> None:
    """Record abandoned every running sync whose heartbeat is older than the abandon limit."""
    lock.abandon_dead_runs()


def run_changes(run: SyncRun) -> list[WeekChange]:
    """The per-week changes a run recorded, most telling first (WeekChange.rank)."""
    return sorted((WeekChange.from_json(item) for item in run.changes), key=lambda c: c.rank)
