"""The metric definitions as stored (the `Metric` rows), always read and written checked.

`store.py`: `stored()` (every definition, built-ins included, in display order), `save`,
`delete` (refused for a built-in and a ratio's operand), `import_document` (a file of
definitions, all or nothing, with a dry run) and `export_document`. `manage.py import_metrics`
and `export_metrics` call the last two; the admin's metric editor saves and deletes.
"""

from metrics.catalog.store import (
    Counted,
    ImportPlan,
    counted,
    delete,
    deletion_refused,
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
    "delete",
    "deletion_refused",
    "export_document",
    "import_document",
    "mark_restated",
    "pending_restatement",
    "save",
    "stored",
]
