"""`manage.py sync_visitors`: sync weekly visitors from PostHog (a door into the tracker)."""

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from metrics import jobs, tracker
from metrics.core import weeks
from metrics.management.arguments import WithoutPostHogWarning, date_argument
from metrics.models import SyncRun
from metrics.presentation import LARGEST_CHANGES, change_lines, run_summary


class Command(WithoutPostHogWarning):
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
        since = date_argument(options["since"]) if options["since"] else None
        sync = tracker.SyncOptions(
            trigger=SyncRun.Trigger.COMMAND, since=since, dry_run=options["dry_run"], force=options["force"]
        )
        # The result is printed first; the alert check (its mail and webhook) runs after it.
        after = jobs.AfterAnswer()
        try:
            run = self._sync(sync, options, after=after)
        except (tracker.InvalidSyncRequest, tracker.SyncInProgress) as err:
            raise CommandError(str(err)) from None
        except tracker.SyncFailed as err:
            which = f" #{err.run.pk}" if err.run else ""
            after.run()  # the failure alert; bounded by the send deadlines
            raise CommandError(f"Sync{which} failed: {err}") from None
        self.stdout.write(self.style.SUCCESS(run_summary(run)))
        for line in change_lines(run, limit=None if self.verbosity >= 2 else LARGEST_CHANGES):
            self.stdout.write(f"  {line}")
        self.stdout.flush()
        after.run()

    def _sync(self, sync: tracker.SyncOptions, options: dict, *, after: jobs.AfterAnswer) -> SyncRun:
        if options["week"]:
            week = weeks.week_start_for_date(date_argument(options["week"]))
            return jobs.sync_weeks(sync, week_starts=[week], progress=self._progress, after=after)
        if options["id"] is not None:
            return jobs.sync_metric_by_id(sync, metric_id=options["id"], progress=self._progress, after=after)
        return jobs.sync_all_metrics(sync, progress=self._progress, after=after)

    def _progress(self, done: int, total: int, phase: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(f"  {phase}: {done}/{total} weeks")

    def _print_status(self) -> None:
        status = jobs.get_sync_status()
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
