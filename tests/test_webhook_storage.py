"""What the webhook keeps per event on PostgreSQL: no index beyond those its queries use
(migration 0010 drops the `_like` index Django adds beside the unique delivery key)."""

import pytest
from django.db import connection

from metrics.models import WebhookDelivery

pytestmark = pytest.mark.django_db


def test_the_delivery_key_has_no_pattern_index():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL adds a varchar_pattern_ops index beside a unique CharField; SQLite does not")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s", [WebhookDelivery._meta.db_table]
        )
        definitions = [row[0] for row in cursor.fetchall()]
    assert len(definitions) == 3, definitions  # the primary key, the unique key, the week (pruning)
    assert not [d for d in definitions if "pattern_ops" in d], definitions
