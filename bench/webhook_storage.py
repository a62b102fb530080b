"""Bytes the webhook keeps per counted event on PostgreSQL (prints figures; not a test).

On a fresh PostgreSQL database, with the 2 built-in metrics only, in two mixes: every event
from a new visitor (the most the webhook can keep) and a pool of a tenth as many visitors as
events (it prints how many events add a visitor hash). Twice in one run:

- before: the schema of migration 0010 (text keys, 64-digit hex visitor hashes, `id`
  primary keys), the rows written one event at a time as that code wrote them (its
  statements, replayed here: the tracker now writes the new schema);
- after: the schema of today's migrations, `--events` `$pageview` deliveries recorded through
  the tracker (the same statement a delivery runs).

Each time `VACUUM ANALYZE`, then the size of each table the webhook writes (pg_table_size:
with its TOAST and free space map) and each of its indexes, per counted event:

    .venv/bin/python bench/webhook_storage.py --events 50000
"""

import argparse
import datetime as dt
import os
import sys
import urllib.parse
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("metrics_webhookdelivery", "metrics_weekvisitor", "metrics_weeklymetric")
BEFORE = "0010_drop_webhookdelivery_key_like"


def fresh_database(admin_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(admin_url)._replace(path=f"/{name}"))


def sizes(url: str) -> list[tuple[str, int]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        rows = []
        for table in TABLES:
            rows.append((table, conn.execute("SELECT pg_table_size(%s)", [table]).fetchone()[0]))
            for (index,) in conn.execute(
                "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass", [table]
            ).fetchall():
                rows.append(
                    (f"  {index}", conn.execute("SELECT pg_relation_size(%s)", [index]).fetchone()[0])
                )
    return rows


def record_as_before(*, key: str, timestamp: dt.datetime, visitor_id: str) -> None:
    """One event as the code of migration 0010 wrote it (pageviews.py then): the text key, the
    64-digit hex HMAC, the week row's increments."""
    from django.db import connection
    from django.utils.crypto import salted_hmac

    from metrics.core import weeks
    from metrics.tracker.metric_matches import VISITOR_HASH_PURPOSE

    week = weeks.week_start_for(timestamp)
    visitor_hash = salted_hmac(VISITOR_HASH_PURPOSE, f"{week}:{visitor_id}", algorithm="sha256").hexdigest()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH delivery AS (
                INSERT INTO metrics_webhookdelivery (key, week_start, received_at)
                VALUES (%(key)s, %(week)s, now()) ON CONFLICT DO NOTHING RETURNING 1
            ), visitor AS (
                INSERT INTO metrics_weekvisitor (week_start, visitor_hash)
                SELECT %(week)s, %(hash)s WHERE EXISTS (SELECT 1 FROM delivery)
                ON CONFLICT DO NOTHING RETURNING 1
            )
            INSERT INTO metrics_weeklymetric (week_start, visitors, pageviews, created_at, updated_at)
            SELECT %(week)s, (SELECT count(*) FROM visitor), 1, now(), now()
            WHERE EXISTS (SELECT 1 FROM delivery)
            ON CONFLICT (week_start) DO UPDATE SET
                visitors = metrics_weeklymetric.visitors + EXCLUDED.visitors,
                pageviews = metrics_weeklymetric.pageviews + 1, updated_at = EXCLUDED.updated_at
            """,
            {"key": key, "week": week, "hash": visitor_hash},
        )


def measure(*, url: str, events: int, label: str, record) -> dict[str, float]:
    """Record `events` deliveries in each mix with `record`; print the sizes; the totals."""
    from django.db import connection

    totals = {}
    now = dt.datetime.now(dt.UTC)
    for mix, visitors in (
        ("every event a new visitor", events),
        ("a pool of events/10 visitors", events // 10),
    ):
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(TABLES)}")
        for n in range(events):
            record(
                key=str(uuid.uuid4()),
                timestamp=now - dt.timedelta(seconds=n * 3 * 7 * 86400 / events),
                visitor_id=f"visitor-{n % visitors}",
            )
        rows = sizes(url)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM metrics_weekvisitor")
            hashes = cursor.fetchone()[0]
        total = sum(size for _name, size in rows)
        print(f"\n== {label}, {mix}: {hashes / events:.0%} of events add a visitor hash")
        for name, size in rows:
            print(f"  {name:48s} {size / events:7.1f} bytes/event")
        print(f"  {'total':48s} {total / events:7.1f} bytes/event", flush=True)
        totals[mix] = total / events
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)}")
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--pg-admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--pg-database", default="bench_webhook_storage")
    args = parser.parse_args()
    url = fresh_database(args.pg_admin_url, args.pg_database)
    os.environ.update(
        {
            "VISITORSYNC_ENV_FILE": "",
            "DJANGO_SETTINGS_MODULE": "visitorsync.settings",
            "DEBUG": "false",
            "SECRET_KEY": "bench-" + "k" * 50,
            "DATABASE_URL": url,
            "VISITORSYNC_LOG_LEVEL": "WARNING",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from metrics import tracker

    def record_now(**event) -> None:
        result = tracker.record_pageview(event="$pageview", **event)
        assert result.status == "counted", result

    print(f"visitorsync webhook storage on PostgreSQL: {args.events} counted events per mix, 2 built-ins")
    call_command("migrate", "metrics", BEFORE, verbosity=0)
    before = measure(
        url=url, events=args.events, label=f"before (schema of {BEFORE})", record=record_as_before
    )
    call_command("migrate", verbosity=0)
    after = measure(
        url=url, events=args.events, label="after (today's schema, the tracker)", record=record_now
    )
    print(f"\n{'bytes per counted event':32s} {'before':>8s} {'after':>8s}")
    for mix in before:
        print(f"{mix:32s} {before[mix]:8.1f} {after[mix]:8.1f}")


if __name__ == "__main__":
    main()
