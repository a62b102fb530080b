"""The webhook's dedup rows, compact (issue 19: at most 250 bytes kept per counted event).

WebhookDelivery: the key becomes a uuid (16 bytes) and the primary key (no `id`, no separate
unique index): a canonical uuid itself, any other key the first 16 bytes of its UTF-8 sha256
(WebhookDelivery.key_for); on PostgreSQL received_at gets a BRIN index (finish_postgresql). WeekVisitor: the hash becomes the first 16 bytes of the same
HMAC-SHA256 (its 64 hex digits' first 32), and (week_start, visitor_hash) the primary key,
which also serves pruning by week. Every existing key and visitor is converted, so a
redelivery or a visitor seen before the migration still counts once.

New tables are made, filled and renamed into place (changing a primary key in place is not
portable). Backwards the rows are converted back: a uuid key exactly; a hashed key and a
visitor hash only as the hex of their 16 bytes, which the old code never computes again, so
after going back such an event redelivered or such a visitor seen again counts once more.
"""

import hashlib
import re
import uuid

from django.db import migrations, models

import django.utils.timezone

BATCH = 5000
# A frozen copy of WebhookDelivery.key_for (models may change; a migration must not).
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PG_CANONICAL_UUID = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def key_for(text: str) -> uuid.UUID:
    if CANONICAL_UUID.fullmatch(text):
        return uuid.UUID(text)
    return uuid.UUID(bytes=hashlib.sha256(text.encode()).digest()[:16])


def _copy(source, target, convert) -> None:
    """Every row of `source` into `target` through `convert`, in batches."""
    rows = []
    for row in source.objects.order_by().iterator(chunk_size=BATCH):
        rows.append(target(**convert(row)))
        if len(rows) == BATCH:
            target.objects.bulk_create(rows, ignore_conflicts=True)
            rows = []
    target.objects.bulk_create(rows, ignore_conflicts=True)


def forward(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        # One statement per table: millions of rows without a round trip each.
        schema_editor.execute(
            "INSERT INTO metrics_compactwebhookdelivery (key, week_start, received_at) "
            "SELECT CASE WHEN key ~ %s THEN key::uuid "
            "ELSE encode(substring(sha256(convert_to(key, 'UTF8')) FROM 1 FOR 16), 'hex')::uuid END, "
            "week_start, received_at "
            "FROM metrics_webhookdelivery",
            [PG_CANONICAL_UUID],
        )
        schema_editor.execute(
            "INSERT INTO metrics_compactweekvisitor (week_start, visitor_hash) "
            "SELECT DISTINCT week_start, decode(substring(visitor_hash FROM 1 FOR 32), 'hex') "
            "FROM metrics_weekvisitor"
        )
        return
    _copy(
        apps.get_model("metrics", "WebhookDelivery"),
        apps.get_model("metrics", "CompactWebhookDelivery"),
        lambda row: {"key": key_for(row.key), "week_start": row.week_start, "received_at": row.received_at},
    )
    _copy(
        apps.get_model("metrics", "WeekVisitor"),
        apps.get_model("metrics", "CompactWeekVisitor"),
        lambda row: {"week_start": row.week_start, "visitor_hash": bytes.fromhex(row.visitor_hash[:32])},
    )


def backward(apps, schema_editor) -> None:
    def old_key(key: uuid.UUID) -> str:
        # Which keys were hashed cannot be told: each goes back as its uuid, a real one exactly.
        return str(key)

    _copy(
        apps.get_model("metrics", "CompactWebhookDelivery"),
        apps.get_model("metrics", "WebhookDelivery"),
        lambda row: {"key": old_key(row.key), "week_start": row.week_start, "received_at": row.received_at},
    )
    _copy(
        apps.get_model("metrics", "CompactWeekVisitor"),
        apps.get_model("metrics", "WeekVisitor"),
        lambda row: {"week_start": row.week_start, "visitor_hash": bytes(row.visitor_hash).hex()},
    )


# PostgreSQL keeps a renamed table's constraint names: give the primary keys their tables'.
PRIMARY_KEYS = [
    ("metrics_webhookdelivery", "metrics_compactwebhookdelivery_pkey", "metrics_webhookdelivery_pkey"),
    ("metrics_weekvisitor", "metrics_compactweekvisitor_pkey", "metrics_weekvisitor_pkey"),
]
RECEIVED_AT_INDEX = "metrics_webhookdelivery_received_at_brin"


def finish_postgresql(apps, schema_editor) -> None:
    """PostgreSQL: the primary keys' names, and a BRIN index on received_at for the
    webhook-quiet alert's lookups (a few pages for millions of rows, where a B-tree costs
    about 23 bytes a row): rows are inserted in about received_at order."""
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, old, new in PRIMARY_KEYS:
        schema_editor.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {old} TO {new}")
    schema_editor.execute(
        f"CREATE INDEX {RECEIVED_AT_INDEX} ON metrics_webhookdelivery USING brin (received_at) "
        "WITH (autosummarize = on)"
    )


def unfinish_postgresql(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {RECEIVED_AT_INDEX}")
    for table, old, new in PRIMARY_KEYS:
        schema_editor.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {new} TO {old}")


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0010_drop_webhookdelivery_key_like"),
    ]

    operations = [
        migrations.CreateModel(
            name="CompactWebhookDelivery",
            fields=[
                (
                    "key",
                    models.UUIDField(
                        help_text="key_for(event uuid or webhook-id).", primary_key=True, serialize=False
                    ),
                ),
                ("week_start", models.DateField(db_index=True)),
                ("received_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.CreateModel(
            name="CompactWeekVisitor",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "week_start",
                        "visitor_hash",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("week_start", models.DateField()),
                ("visitor_hash", models.BinaryField(max_length=16)),
            ],
        ),
        migrations.RunPython(forward, backward, elidable=False),
        migrations.DeleteModel(name="WebhookDelivery"),
        migrations.DeleteModel(name="WeekVisitor"),
        migrations.RenameModel(old_name="CompactWebhookDelivery", new_name="WebhookDelivery"),
        migrations.RenameModel(old_name="CompactWeekVisitor", new_name="WeekVisitor"),
        migrations.RunPython(finish_postgresql, unfinish_postgresql, elidable=False),
    ]
