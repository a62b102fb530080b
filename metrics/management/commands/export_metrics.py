"""`manage.py export_metrics`: print every metric definition as JSON (a door into metrics.catalog)."""

import json

from django.core.management.base import BaseCommand

from metrics import catalog


class Command(BaseCommand):
    help = (
        "Print every metric definition, the built-in visitors and pageviews included, as JSON that "
        "import_metrics reads back to the same definitions."
    )

    def handle(self, *args, **options) -> None:
        self.stdout.write(json.dumps(catalog.export_document(), indent=2, ensure_ascii=False))
