"""Metric definitions (metrics/core/definitions.py): the file format, what is refused and how it
is named, the built-in metrics, and the export that reads back to the same definitions."""

import json
from http import HTTPStatus

import pytest

from metrics.core import definitions
from metrics.core.definitions import Better, Kind, MetricDefinition
from metrics.core.errors import InvalidMetricDefinition
from metrics.core.properties import Operator, PropertyFilter
from metrics.numbers import COLUMNS
from metrics.presentation import http_status_for
from tests.support.metric_files import ISSUE_EXAMPLE


def test_the_issue_example_reads_as_written():
    parsed = definitions.parse_document(json.loads(ISSUE_EXAMPLE))
    assert parsed == (
        MetricDefinition(key="signups", name="Signups", kind=Kind.COUNT, events=("signed_up",)),
        MetricDefinition(
            key="pro_buyers",
            name="Pro buyers",
            kind=Kind.UNIQUE,
            events=("purchase",),
            properties=(PropertyFilter("plan", Operator.EXACT, ("pro",)),),
        ),
        MetricDefinition(
            key="revenue",
            name="Revenue",
            kind=Kind.SUM,
            events=("purchase",),
            sum_property="amount",
            unit="EUR",
            target=5000.0,
        ),
        MetricDefinition(
            key="signup_rate",
            name="Signup rate",
            kind=Kind.RATIO,
            numerator="signups",
            denominator="visitors",
            unit="percent",
        ),
    )


def test_an_export_reads_back_to_equal_definitions():
    parsed = definitions.parse_document(json.loads(ISSUE_EXAMPLE))
    everything = (*definitions.built_ins(), *parsed)
    text = json.dumps(definitions.to_document(everything))
    assert definitions.parse_document(json.loads(text)) == everything


def test_every_field_survives_the_round_trip():
    full = MetricDefinition(
        key="big_orders",
        name="Big orders",
        kind=Kind.SUM,
        events=("purchase", "renewal"),
        properties=(
            PropertyFilter("plan", Operator.IS_NOT, ("free", "trial")),
            PropertyFilter("$current_url", Operator.NOT_ICONTAINS, ("/test",)),
            PropertyFilter("coupon", Operator.IS_NOT_SET),
        ),
        sum_property="amount",
        unit="USD",
        target=1234.5,
        better=Better.LOWER,
        in_report=False,
        in_admin_list=False,
        order=-3,
        drop_alert=0.25,
    )
    document = json.loads(json.dumps(definitions.to_document([full])))
    assert definitions.parse_document(document) == (full,)


def test_the_built_ins_follow_visitorsync_event(settings):
    settings.VISITORSYNC_EVENT = "$pageview,$screen"
    visitors, pageviews = definitions.built_ins()
    assert (visitors.key, visitors.kind, visitors.events) == (
        "visitors",
        Kind.UNIQUE,
        ("$pageview", "$screen"),
    )
    assert (pageviews.key, pageviews.kind, pageviews.events) == (
        "pageviews",
        Kind.COUNT,
        ("$pageview", "$screen"),
    )
    # A built-in's entry may leave its events out (an export does) or give the same ones.
    document = {"metrics": [{"key": "visitors", "name": "People", "kind": "unique"}]}
    assert definitions.parse_document(document)[0].events == ("$pageview", "$screen")
    assert "events" not in definitions.to_document([visitors])["metrics"][0]
    same = {"key": "visitors", "name": "People", "kind": "unique", "events": ["$pageview", "$screen"]}
    assert definitions.parse_document({"metrics": [same]})[0].name == "People"


def test_optional_fields_default_sensibly():
    (signups,) = definitions.parse_document(
        {"metrics": [{"key": "signups", "name": " Signups ", "kind": "count", "events": ["signed_up"]}]}
    )
    assert signups.name == "Signups"
    assert (signups.unit, signups.target, signups.better, signups.order) == ("number", None, Better.HIGHER, 0)
    assert signups.in_report and signups.in_admin_list and signups.drop_alert is None


def test_property_filter_values_read_as_posthog_writes_them():
    raw = {
        "key": "paid",
        "name": "Paid",
        "kind": "count",
        "events": ["purchase"],
        "properties": [
            {"key": "plan", "value": "pro", "type": "event"},  # no operator: exact, as in PostHog
            {"key": "seats", "operator": "exact", "value": [5, 2.50, True]},
            {"key": "coupon", "operator": "is_set", "value": "is_set"},
        ],
    }
    (paid,) = definitions.parse_document({"metrics": [raw]})
    assert paid.properties == (
        PropertyFilter("plan", Operator.EXACT, ("pro",)),
        PropertyFilter("seats", Operator.EXACT, ("5", "2.5", "true")),
        PropertyFilter("coupon", Operator.IS_SET),
    )


def _metric(**fields):
    return {"key": "m", "name": "M", "kind": "count", "events": ["e"], **fields}


REFUSED = [
    ({"metrics": {}}, "(file)", "metrics"),
    ({"metrics": [], "extra": 1}, "(file)", "metrics"),
    ({"metrics": ["signups"]}, "#1", "(metric)"),
    ({"metrics": [_metric(key="Signups")]}, "#1", "key"),
    ({"metrics": [_metric(key="week_start")]}, "'week_start'", "key"),
    ({"metrics": [_metric(key="event")]}, "'event'", "key"),
    ({"metrics": [_metric(colour="red")]}, "'m'", "colour"),
    ({"metrics": [_metric(kind=None)]}, "'m'", "kind"),
    ({"metrics": [_metric(kind="average")]}, "'m'", "kind"),
    ({"metrics": [_metric(name="")]}, "'m'", "name"),
    ({"metrics": [_metric(name="a\nb")]}, "'m'", "name"),
    ({"metrics": [_metric(events=[])]}, "'m'", "events"),
    ({"metrics": [_metric(events="signed_up")]}, "'m'", "events"),
    ({"metrics": [_metric(events=[" signed_up"])]}, "'m'", "events"),
    ({"metrics": [_metric(events=["a\tb"])]}, "'m'", "events"),
    ({"metrics": [_metric(events=[f"e{n}" for n in range(21)])]}, "'m'", "events"),
    ({"metrics": [_metric(property="amount")]}, "'m'", "property"),
    ({"metrics": [_metric(kind="sum")]}, "'m'", "property"),
    ({"metrics": [_metric(numerator="visitors")]}, "'m'", "numerator"),
    ({"metrics": [_metric(kind="ratio", numerator="visitors", denominator="pageviews")]}, "'m'", "events"),
    (
        {"metrics": [{"key": "r", "name": "R", "kind": "ratio", "numerator": "visitors"}]},
        "'r'",
        "denominator",
    ),
    ({"metrics": [_metric(unit="EUR")]}, "'m'", "unit"),
    ({"metrics": [_metric(unit="percent")]}, "'m'", "unit"),
    ({"metrics": [_metric(kind="sum", property="amount", unit="eur")]}, "'m'", "unit"),
    ({"metrics": [_metric(target=-1)]}, "'m'", "target"),
    ({"metrics": [_metric(target="5000")]}, "'m'", "target"),
    ({"metrics": [_metric(target=True)]}, "'m'", "target"),
    ({"metrics": [_metric(target=float("nan"))]}, "'m'", "target"),
    ({"metrics": [_metric(better="more")]}, "'m'", "better"),
    ({"metrics": [_metric(in_report="yes")]}, "'m'", "in_report"),
    ({"metrics": [_metric(order=1.5)]}, "'m'", "order"),
    ({"metrics": [_metric(order=True)]}, "'m'", "order"),
    ({"metrics": [_metric(drop_alert=1.5)]}, "'m'", "drop_alert"),
    ({"metrics": [_metric(drop_alert=0)]}, "'m'", "drop_alert"),
    ({"metrics": [_metric(properties={"key": "plan"})]}, "'m'", "properties"),
    ({"metrics": [_metric(properties=["plan"])]}, "'m'", "properties[0]"),
    (
        {"metrics": [_metric(properties=[{"key": "plan", "operator": "regex", "value": "x"}])]},
        "'m'",
        "properties[0].operator",
    ),
    (
        {"metrics": [_metric(properties=[{"key": "email", "value": "x", "type": "person"}])]},
        "'m'",
        "properties[0].type",
    ),
    ({"metrics": [_metric(properties=[{"key": "", "value": "x"}])]}, "'m'", "properties[0].key"),
    ({"metrics": [_metric(properties=[{"key": "plan", "operator": "exact"}])]}, "'m'", "properties[0].value"),
    ({"metrics": [_metric(properties=[{"key": "plan", "value": []}])]}, "'m'", "properties[0].value"),
    ({"metrics": [_metric(properties=[{"key": "plan", "value": [None]}])]}, "'m'", "properties[0].value"),
    (
        {"metrics": [_metric(properties=[{"key": "n", "operator": "icontains", "value": 5}])]},
        "'m'",
        "properties[0].value",
    ),
    ({"metrics": [_metric(properties=[{"key": "plan", "value": "a\nb"}])]}, "'m'", "properties[0].value"),
    (
        {"metrics": [_metric(properties=[{"key": "plan", "value": "x", "negation": True}])]},
        "'m'",
        "properties[0].negation",
    ),
    ({"metrics": [{"key": "visitors", "name": "V", "kind": "count"}]}, "'visitors'", "kind"),
    (
        {"metrics": [{"key": "pageviews", "name": "P", "kind": "count", "events": ["$screen"]}]},
        "'pageviews'",
        "events",
    ),
    (
        {
            "metrics": [
                {"key": "visitors", "name": "V", "kind": "unique", "properties": [{"key": "a", "value": "b"}]}
            ]
        },
        "'visitors'",
        "properties",
    ),
    ({"metrics": [_metric(), _metric()]}, "'m'", "key"),
    (
        {
            "metrics": [
                {"key": "r", "name": "R", "kind": "ratio", "numerator": "signups", "denominator": "visitors"}
            ]
        },
        "'r'",
        "numerator",
    ),
    (
        {
            "metrics": [
                {"key": "r", "name": "R", "kind": "ratio", "numerator": "r", "denominator": "visitors"}
            ]
        },
        "'r'",
        "numerator",
    ),
    ({"metrics": [_metric(key=f"m{n}") for n in range(49)]}, "'m48'", "key"),
]


@pytest.mark.parametrize(("document", "metric", "field"), REFUSED, ids=[f"{m} {f}" for _, m, f in REFUSED])
def test_what_cannot_work_is_refused_naming_the_metric_and_the_field(document, metric, field):
    with pytest.raises(InvalidMetricDefinition) as caught:
        definitions.parse_document(document)
    assert (caught.value.metric, caught.value.field) == (metric, field)
    assert str(caught.value).startswith(f"Metric {metric}, field {field}: ")
    assert caught.value.detail.endswith(".")


def test_a_ratio_of_ratios_is_refused_even_across_the_stored_metrics():
    stored = (
        *definitions.built_ins(),
        MetricDefinition(
            key="rate", name="Rate", kind=Kind.RATIO, numerator="pageviews", denominator="visitors"
        ),
    )
    document = {
        "metrics": [
            {"key": "r2", "name": "R2", "kind": "ratio", "numerator": "rate", "denominator": "visitors"}
        ]
    }
    with pytest.raises(InvalidMetricDefinition, match="'rate' is a ratio itself"):
        definitions.parse_document(document, existing=stored)
    # A ratio of a stored count is fine, though the file does not name it.
    stored = (
        *stored,
        MetricDefinition(key="signups", name="Signups", kind=Kind.COUNT, events=("signed_up",)),
    )
    ok = {
        "metrics": [
            {"key": "r3", "name": "R3", "kind": "ratio", "numerator": "signups", "denominator": "visitors"}
        ]
    }
    assert definitions.parse_document(ok, existing=stored)[0].numerator == "signups"


def test_no_metric_key_can_be_a_column_of_the_export():
    assert set(COLUMNS) - set(definitions.BUILT_IN_KEYS) <= definitions.RESERVED_KEYS


def test_an_invalid_definition_is_a_bad_request_for_every_door():
    err = InvalidMetricDefinition("give a name.", metric="'m'", field="name")
    assert isinstance(err, ValueError)
    assert http_status_for(err) == HTTPStatus.BAD_REQUEST
