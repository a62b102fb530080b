"""`manage.py import_metrics FILE`: create or update metric definitions from a JSON file (a door
into metrics.catalog)."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics import catalog
from metrics.core.errors import InvalidMetricDefinition
from metrics.management.arguments import json_file_argument
from metrics.presentation import import_lines, import_summary


class Command(BaseCommand):
    help = (
        'Create or update metrics by key from a JSON file {"metrics": [...]} (the format export_metrics '
        "prints). Metrics the file does not name are left as they are. If any definition is invalid, "
        "nothing is imported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The JSON file ('-': read standard input).")
        parser.add_argument("--dry-run", action="store_true", help="Show what would change; write nothing.")

    def handle(self, *args, **options) -> None:
        document = json_file_argument(options["file"])
        try:
            plan = catalog.import_document(document, dry_run=options["dry_run"])
        except InvalidMetricDefinition as err:
            raise CommandError(f"{err} Nothing was imported.") from None
        for line in import_lines(plan):
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(import_summary(plan)))
