"""Read-only selectors: the integration's status and what a run changed."""

import dataclasses
import datetime as dt
import re

from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from metrics.core import schedule, secrets
from metrics.models import SyncRun, WeeklyMetric
from metrics.posthog import PostHogConfig
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
        """What a monitor alerts on: syncing can work, has worked lately, and no door is shut."""
        return self.posthog_configured and not self.stale and not self.webhook_problems


def get_sync_status() -> SyncStatus:
    """Configuration state and sync history, in a fixed number of queries."""
    config = PostHogConfig.from_settings()
    webhook = secrets.WebhookConfig.from_settings()
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
        running=SyncRun.objects.filter(status=SyncRun.Status.RUNNING).first(),
        last_run=SyncRun.objects.exclude(status=SyncRun.Status.RUNNING).first(),
        last_success=last_success,
        success_count=counts["succeeded"],
        failure_count=counts["failed"],
        weeks_stored=stored["count"],
        newest_week=stored["newest"],
        oldest_week=stored["oldest"],
        stale=last_success is None or timezone.now() - last_success.finished_at > stale_after,
        stale_after=stale_after,
        cron_secret_configured=bool(secrets.cron_secrets()),
        webhook_secret_configured=webhook.usable,
    )


def run_changes(run: SyncRun) -> list[WeekChange]:
    """The per-week changes a run recorded, most telling first (WeekChange.rank)."""
    return sorted((WeekChange.from_json(item) for item in run.changes), key=lambda c: c.rank)
