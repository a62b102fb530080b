"""Stored metric definitions (metrics/catalog/) and their doors, `manage.py import_metrics` and
`export_metrics`, on the real database: the built-ins from the migration, imports that apply all
or nothing, dry runs, and an export that imports back to the same definitions."""

import dataclasses
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection
from django.utils import timezone

from metrics import catalog
from metrics.core import definitions
from metrics.core.definitions import Kind, MetricDefinition
from metrics.core.errors import InvalidMetricDefinition
from metrics.models import Metric
from metrics.presentation import import_summary
from tests.support.metric_files import ISSUE_EXAMPLE

pytestmark = pytest.mark.django_db


def command(name: str, *args: str) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def example_file(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(ISSUE_EXAMPLE)
    return path


def test_the_migration_stores_the_two_built_ins():
    assert list(Metric.objects.values_list("key", "kind", "events")) == [
        ("visitors", "unique", []),
        ("pageviews", "count", []),
    ]
    assert catalog.stored() == definitions.built_ins()


def test_the_built_ins_take_their_events_from_the_settings(settings):
    settings.VISITORSYNC_EVENT = "$pageview,$screen"
    assert [d.events for d in catalog.stored()] == [("$pageview", "$screen")] * 2


def test_importing_the_issue_example_as_written(example_file):
    out = command("import_metrics", str(example_file))
    assert out.splitlines() == [
        "created signups",
        "created pro_buyers",
        "created revenue",
        "created signup_rate",
        "Imported metric definitions: 4 new, 0 changed, 0 unchanged.",
    ]
    stored = {d.key: d for d in catalog.stored()}
    assert list(stored) == ["visitors", "pageviews", "signups", "pro_buyers", "revenue", "signup_rate"]
    assert stored["revenue"].sum_property == "amount" and stored["revenue"].target == 5000.0
    assert stored["pro_buyers"].properties[0].values == ("pro",)
    assert stored["signup_rate"].denominator == "visitors"


def test_a_dry_run_says_what_would_change_and_writes_nothing(example_file):
    command("import_metrics", str(example_file))
    document = json.loads(ISSUE_EXAMPLE)
    document["metrics"][2]["target"] = 6000
    document["metrics"][3]["name"] = "Conversion"
    document["metrics"].append(
        {"key": "trials", "name": "Trials", "kind": "count", "events": ["trial_started"]}
    )
    example_file.write_text(json.dumps(document))
    before = list(Metric.objects.values())
    out = command("import_metrics", str(example_file), "--dry-run")
    assert out.splitlines() == [
        "would create trials",
        "would update revenue: target",
        "would update signup_rate: name",
        "Dry run, nothing written: 1 new, 2 changed, 2 unchanged.",
    ]
    assert list(Metric.objects.values()) == before
    assert "updated revenue: target" in command("import_metrics", str(example_file))
    assert {d.key: d.target for d in catalog.stored()}["revenue"] == 6000.0


def test_an_invalid_file_names_the_metric_and_field_and_applies_nothing(tmp_path):
    document = json.loads(ISSUE_EXAMPLE)
    del document["metrics"][2]["property"]  # the third metric, revenue, is now invalid
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(CommandError) as caught:
        command("import_metrics", str(path))
    assert str(caught.value).startswith("Metric 'revenue', field property: give the numeric event property")
    assert str(caught.value).endswith("Nothing was imported.")
    assert list(Metric.objects.values_list("key", flat=True)) == ["visitors", "pageviews"]


def test_files_that_are_not_json_or_not_there(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"metrics": [')
    with pytest.raises(CommandError, match=r"broken\.json is not JSON"):
        command("import_metrics", str(path))
    with pytest.raises(CommandError, match="Cannot read"):
        command("import_metrics", str(tmp_path / "missing.json"))


def test_a_database_failure_midway_leaves_nothing_imported(example_file):
    """All or nothing: the second write fails, the first is rolled back with it."""
    inserts = []

    def fail_second_insert(execute, sql, params, many, context):
        if sql.startswith('INSERT INTO "metrics_metric"'):
            inserts.append(sql)
            if len(inserts) == 2:
                raise DatabaseError("disk full")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_second_insert), pytest.raises(DatabaseError, match="disk full"):
        catalog.import_document(json.loads(ISSUE_EXAMPLE), dry_run=False)
    assert len(inserts) == 2
    assert list(Metric.objects.values_list("key", flat=True)) == ["visitors", "pageviews"]


def test_export_imports_back_to_the_same_definitions(example_file):
    command("import_metrics", str(example_file))
    exported = command("export_metrics")
    before = catalog.stored()
    assert json.loads(exported) == definitions.to_document(before)
    assert "Dry run, nothing written: 0 new, 0 changed, 6 unchanged." in _import_text(exported, dry_run=True)
    # Into an installation that has only the built-ins: the same definitions come out.
    Metric.objects.exclude(key__in=definitions.BUILT_IN_KEYS).delete()
    _import_text(exported, dry_run=False)
    assert catalog.stored() == before


def _import_text(text: str, *, dry_run: bool) -> str:
    return import_summary(catalog.import_document(json.loads(text), dry_run=dry_run))


def test_import_reads_standard_input(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(ISSUE_EXAMPLE))
    assert "4 new" in command("import_metrics", "-", "--dry-run")


def test_a_built_in_can_be_renamed_and_given_a_target_but_keeps_its_events(tmp_path):
    path = tmp_path / "visitors.json"
    path.write_text(
        json.dumps({"metrics": [{"key": "visitors", "name": "People", "kind": "unique", "target": 900}]})
    )
    assert "updated visitors: name, target" in command("import_metrics", str(path))
    row = Metric.objects.get(key="visitors")
    assert (row.name, row.target, row.events) == ("People", 900.0, [])
    visitors = catalog.stored()[0]
    assert visitors.events == ("$pageview",) and visitors.name == "People"
    assert "events" not in json.loads(command("export_metrics"))["metrics"][0]


def test_save_checks_against_the_stored_metrics():
    catalog.save(MetricDefinition(key="signups", name="Signups", kind=Kind.COUNT, events=("signed_up",)))
    catalog.save(
        MetricDefinition(
            key="rate", name="Rate", kind=Kind.RATIO, numerator="signups", denominator="visitors"
        )
    )
    with pytest.raises(InvalidMetricDefinition) as caught:
        catalog.save(
            MetricDefinition(
                key="rate2", name="Rate 2", kind=Kind.RATIO, numerator="rate", denominator="visitors"
            )
        )
    assert (caught.value.metric, caught.value.field) == ("'rate2'", "numerator")
    assert [d.key for d in catalog.stored()] == ["visitors", "pageviews", "signups", "rate"]


def test_metrics_show_in_their_order_then_as_created():
    catalog.save(MetricDefinition(key="b", name="B", kind=Kind.COUNT, events=("e",)))
    catalog.save(MetricDefinition(key="a", name="A", kind=Kind.COUNT, events=("e",), order=-1))
    assert [d.key for d in catalog.stored()] == ["a", "visitors", "pageviews", "b"]


def test_a_new_or_recounted_metric_waits_for_a_sync_of_every_week_a_shown_change_does_not():
    signups = MetricDefinition(key="signups", name="Signups", kind=Kind.COUNT, events=("signed_up",))
    catalog.save(signups)
    assert catalog.pending_restatement() == ("signups",)
    counted_at = timezone.now()
    catalog.mark_restated(counted_before=counted_at)
    assert catalog.pending_restatement() == ()

    # How it is shown changes no stored number.
    catalog.save(dataclasses.replace(signups, name="Sign-ups", target=50.0, order=3))
    assert catalog.pending_restatement() == ()
    # What it counts does: the next sync of every week restates its weeks.
    catalog.save(dataclasses.replace(signups, events=("signed_up", "registered")))
    assert catalog.pending_restatement() == ("signups",)
    # A sync that started before the change counted the old definition.
    catalog.mark_restated(counted_before=counted_at)
    assert catalog.pending_restatement() == ("signups",)
    catalog.mark_restated(counted_before=timezone.now())
    assert catalog.pending_restatement() == ()
    # A built-in's events come from the settings, which no sync has to catch up with here.
    catalog.save(dataclasses.replace(definitions.built_ins()[0], name="People"))
    assert catalog.pending_restatement() == ()
