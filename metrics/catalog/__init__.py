"""The metric definitions as stored (the `Metric` rows), always read and written checked.

`store.py`: `stored()` (every definition, built-ins included, in display order), `save`,
`import_document` (a file of definitions, all or nothing, with a dry run) and
`export_document`. `manage.py import_metrics` and `export_metrics` call the last two.
"""

from metrics.catalog.store import (
    Counted,
    ImportPlan,
    counted,
    export_document,
    import_document,
    mark_restated,
    pending_restatement,
    save,
    stored,
)

__all__ = [
    "Counted",
    "ImportPlan",
    "counted",
    "export_document",
    "import_document",
    "mark_restated",
    "pending_restatement",
    "save",
    "stored",
]
