"""`manage.py send_weekly_report`: mail the weekly report (a door into metrics.reports)."""

from django.core.management.base import CommandError, CommandParser

from metrics import jobs, reports
from metrics.management.arguments import WithoutPostHogWarning, date_argument
from metrics.presentation import report_summary


class Command(WithoutPostHogWarning):
    help = (
        "Mail the weekly report (the last complete week by default) to VISITORSYNC_REPORT_RECIPIENTS. "
        "A recipient who already has a week's report is not sent it again unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--week", metavar="YYYY-MM-DD", help="Report the week containing this date.")
        parser.add_argument("--dry-run", action="store_true", help="Show the report and who would get it.")
        parser.add_argument("--force", action="store_true", help="Send even to those who already have it.")

    def handle(self, *args, **options) -> None:
        week = date_argument(options["week"]) if options["week"] else None
        try:
            result = jobs.send_weekly_report(
                week_start=week, dry_run=options["dry_run"], force=options["force"]
            )
        except reports.ReportError as err:
            raise CommandError(str(err)) from None
        if result.dry_run:
            message = reports.render_report(result.report, to="(dry run)")
            self.stdout.write(f"Subject: {message.subject}\n\n{message.body}")
        self.stdout.write(self.style.SUCCESS(report_summary(result)))
