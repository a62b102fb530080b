"""`manage.py sync_visitors`: sync weekly visitors from PostHog (a door into the tracker)."""

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from metrics import tracker, weeks
from metrics.models import SyncRun, WeeklyMetric


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date; use YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = (
        "Sync weekly unique visitors and pageviews from PostHog. By default syncs every week "
        "from the earliest stored week through the current one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--week", metavar="YYYY-MM-DD", help="Sync the week containing this date.")
        target.add_argument("--id", type=int, metavar="N", help="Sync the stored week with this id.")
        target.add_argument("--since", metavar="YYYY-MM-DD", help="Backfill from the week of this date.")
        target.add_argument("--status", action="store_true", help="Print the sync status and exit.")
        parser.add_argument("--dry-run", action="store_true", help="Show what would change; write nothing.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Write even if PostHog's answer would set weeks that hold visitors to zero.",
        )

    def handle(self, *args, **options) -> None:
        self.verbosity = options["verbosity"]
        if options["status"]:
            self._print_status()
            return
        common = {
            "trigger": SyncRun.Trigger.COMMAND,
            "dry_run": options["dry_run"],
            "force": options["force"],
            "progress": self._progress,
        }
        started = time.monotonic()
        try:
            if options["week"]:
                run = tracker.sync_weeks(
                    week_starts=[weeks.week_start_for_date(_date(options["week"]))], **common
                )
            elif options["id"] is not None:
                run = tracker.sync_metric_by_id(options["id"], **common)
            else:
                since = _date(options["since"]) if options["since"] else None
                run = tracker.sync_all_metrics(since=since, **common)
        except WeeklyMetric.DoesNotExist:
            raise CommandError(f"No stored week has id {options['id']}.") from None
        except tracker.InvalidSyncRequest as err:
            raise CommandError(str(err)) from None
        except tracker.SyncError as err:
            where = f" (recorded as sync #{err.run.pk})" if err.run and err.run.pk else ""
            raise CommandError(f"Sync failed{where}: {err}") from None
        self._print_result(run, time.monotonic() - started)

    def _progress(self, done: int, total: int, phase: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(f"  {phase}: {done}/{total} weeks")

    def _print_result(self, run: SyncRun, seconds: float) -> None:
        prefix = "Dry run, nothing written. Would have" if run.dry_run else "Synced"
        self.stdout.write(
            self.style.SUCCESS(
                f"{prefix} {run.weeks_checked} weeks ({run.first_week} to {run.last_week}): "
                f"{run.weeks_created} created, {run.weeks_updated} updated, "
                f"{run.weeks_unchanged} unchanged; {run.queries} PostHog "
                f"quer{'y' if run.queries == 1 else 'ies'} in {seconds:.1f}s (sync #{run.pk})."
            )
        )
        for change in tracker.run_changes(run):
            before = "new" if change.created else f"{change.visitors_before}/{change.pageviews_before}"
            self.stdout.write(
                f"  week {change.week_start}: visitors/pageviews {before} -> "
                f"{change.visitors_after}/{change.pageviews_after}"
            )

    def _print_status(self) -> None:
        status = tracker.get_sync_status()
        if status.posthog_configured:
            self.stdout.write(self.style.SUCCESS("PostHog: configured"))
        else:
            self.stdout.write(self.style.WARNING("PostHog: not configured"))
            for problem in status.posthog_problems:
                self.stdout.write(f"  - {problem}")
        self.stdout.write(
            f"Weeks stored: {status.weeks_stored}"
            + (f" ({status.oldest_week} to {status.newest_week})" if status.weeks_stored else "")
        )
        for label, run in (
            ("Running", status.running),
            ("Last run", status.last_run),
            ("Last success", status.last_success),
        ):
            if run:
                when = timezone.localtime(run.started_at).strftime("%Y-%m-%d %H:%M:%S %Z")
                line = f"{label}: #{run.pk} {run.get_trigger_display()} at {when}, {run.get_status_display()}"
                if run.error:
                    line += f": {run.error}"
                self.stdout.write(line)
            else:
                self.stdout.write(f"{label}: none")
        self.stdout.write(f"Succeeded: {status.success_count}  Failed: {status.failure_count}")
