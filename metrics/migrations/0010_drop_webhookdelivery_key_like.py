"""PostgreSQL: drop the `varchar_pattern_ops` index Django adds beside a unique CharField.

WebhookDelivery.key is only ever compared for equality (the unique index serves that); its
`_like` index serves LIKE queries nobody runs, and was about 75 bytes of every counted event
(bench/webhook_storage.py). Rows are untouched. Other databases have no such index.
"""

from django.db import migrations

TABLE = "metrics_webhookdelivery"


def _like_indexes(schema_editor) -> list[str]:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s "
            "AND indexname LIKE %s AND indexdef LIKE %s",
            [TABLE, "%\\_like", "%varchar_pattern_ops%"],
        )
        return [name for (name,) in cursor.fetchall()]


def drop_like_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    for name in _like_indexes(schema_editor):
        schema_editor.execute(f"DROP INDEX IF EXISTS {quote(name)}")


def create_like_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    model = apps.get_model("metrics", "WebhookDelivery")
    field = model._meta.get_field("key")
    name = schema_editor._create_index_name(TABLE, [field.column], suffix="_like")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {schema_editor.quote_name(name)} ON {schema_editor.quote_name(TABLE)} "
        f"({schema_editor.quote_name(field.column)} varchar_pattern_ops)"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0009_metric_alerts"),
    ]

    operations = [migrations.RunPython(drop_like_index, create_like_index, elidable=False)]
