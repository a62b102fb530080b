"""Bytes the webhook keeps per counted event on PostgreSQL (prints figures; not a test).

On a fresh PostgreSQL database it records `--events` `$pageview` deliveries through the
tracker (the same statement a delivery runs), with the 2 built-in metrics only, in two mixes:
every event from a new visitor (the most the webhook can keep) and a pool of a tenth as
many visitors as events (it prints how many events add a visitor hash). Then `VACUUM
ANALYZE`, and it prints the size of each table the webhook writes (pg_table_size: with its
TOAST and free space map) and each of its indexes, per counted event:

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
    from django.db import connection

    from metrics import tracker

    call_command("migrate", verbosity=0)
    now = dt.datetime.now(dt.UTC)
    print(f"visitorsync webhook storage on PostgreSQL: {args.events} counted events per mix, 2 built-ins")
    for label, visitors in (
        ("every event a new visitor", args.events),
        ("a pool of events/10 visitors", args.events // 10),
    ):
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(TABLES)}")
        for n in range(args.events):
            result = tracker.record_pageview(
                key=str(uuid.uuid4()),
                event="$pageview",
                timestamp=now - dt.timedelta(seconds=n * 3 * 7 * 86400 / args.events),
                visitor_id=f"visitor-{n % visitors}",
            )
            assert result.status == "counted", result
        rows = sizes(url)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM metrics_weekvisitor")
            hashes = cursor.fetchone()[0]
        total = sum(size for _name, size in rows)
        print(f"\n== {label}: {hashes / args.events:.0%} of events add a visitor hash")
        for name, size in rows:
            print(f"  {name:48s} {size / args.events:7.1f} bytes/event")
        print(f"  {'total':48s} {total / args.events:7.1f} bytes/event", flush=True)


if __name__ == "__main__":
    main()
