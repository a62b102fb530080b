"""Event properties as HogQL reads them (metrics/core/property_values.py) and property conditions
in PostHog's shape (metrics/core/properties.py): the text of each JSON value, `toFloat`, ILIKE,
what each operator matches on a delivery's properties, and the HogQL each one is written as.

Each expectation is what PostHog's query does (docs/research/posthog-metrics.md says where in
PostHog's and ClickHouse's source); tests/test_grouped_query.py runs the HogQL on the stand-in.
"""

import math

import pytest

from metrics.core.errors import InvalidMetricDefinition
from metrics.core.properties import Operator, PropertyFilter, parse_filter
from metrics.core.property_values import ilike, number_text, property_text, summable, text_to_float, to_float


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("pro", "pro"),
        ("", ""),
        ("https://example.com/a/b", "https://example.com/a/b"),  # ClickHouse keeps forward slashes
        ('say "hi"', 'say \\"hi\\"'),  # escapes stay in the text HogQL compares
        ("a\\b", "a\\\\b"),
        ("line\nbreak\ttab", "line\\nbreak\\ttab"),
        ("bell\x07", "bell\\u0007"),
        ("sep\u2028", "sep\\u2028"),
        ("café ☕", "café ☕"),
        (5, "5"),
        (-12, "-12"),
        (12.5, "12.5"),
        (1.0, "1"),
        (0.1, "0.1"),
        (1e-6, "0.000001"),
        (123456.789, "123456.789"),
        (True, "true"),
        (False, "false"),
        (None, None),
        (float("nan"), None),
        ({"a": [1, "x", None]}, '{"a":[1,"x",null]}'),
        ([1.5, True], "[1.5,true]"),
    ],
)
def test_the_text_hogql_reads_for_each_json_value(value, text):
    assert property_text(value) == text


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (12.5, 12.5),
        (3, 3.0),
        ("12.5", 12.5),
        ("12.50", 12.5),
        ("7", 7.0),
        ("-0.25", -0.25),
        ("+5", 5.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("1E-2", 0.01),
        (True, None),
        (False, None),
        ("", None),
        ("n/a", None),
        (None, None),
        (" 12", None),
        ("12 ", None),
        ("1,5", None),
        ("0x10", None),
        ("12abc", None),
        ("1e", None),
        ("١٢", None),  # Arabic-Indic digits are not ClickHouse digits
        ([1], None),
        ({"amount": 1}, None),
    ],
)
def test_to_float_reads_what_hogql_tofloat_reads(value, number):
    assert to_float(value) == number


@pytest.mark.parametrize("text", ["nan", "NaN", "-nan", "inf", "-Infinity", "INF"])
def test_nan_and_infinities_read_as_numbers_but_are_never_summed(text):
    number = text_to_float(text)
    assert number is not None and not math.isfinite(number)
    assert summable(text) is None


def test_summable_keeps_finite_numbers_only():
    assert [summable(v) for v in (12.5, "7", "n/a", "", None, True, "1e400")] == [
        12.5,
        7.0,
        None,
        None,
        None,
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [(1e21, "1e21"), (1.5e-7, "1.5e-7"), (2.0**64, "18446744073709552000"), (-0.0, "0")],
)
def test_numbers_outside_plain_notation(value, text):
    assert number_text(value) == text


@pytest.mark.parametrize(
    ("text", "pattern", "matches"),
    [
        ("Pro plan", "%pro%", True),
        ("PRO", "%pro%", True),
        ("basic", "%pro%", False),
        ("50% off", "%50\\%%", True),
        ("50 off", "%50%%", True),  # an unescaped % in a value is a wildcard, as in PostHog
        ("a_b", "%a\\_b%", True),
        ("axb", "%a_b%", True),
        ("axb", "%a\\_b%", False),
        ("line\nbreak", "%break%", True),
    ],
)
def test_ilike_is_clickhouse_ilike(text, pattern, matches):
    assert ilike(text, pattern) is matches


PROPERTIES = {
    "plan": "pro",
    "seats": 5,
    "price": 12.5,
    "paid": True,
    "blank": "",
    "nothing": None,
    "url": "https://example.com/pricing?ref=ads",
}


@pytest.mark.parametrize(
    ("condition", "matches"),
    [
        (PropertyFilter("plan", Operator.EXACT, ("pro",)), True),
        (PropertyFilter("plan", Operator.EXACT, ("Pro",)), False),  # exact is case-sensitive
        (PropertyFilter("plan", Operator.EXACT, ("team", "pro")), True),
        (PropertyFilter("seats", Operator.EXACT, ("5",)), True),
        (PropertyFilter("price", Operator.EXACT, ("12.5",)), True),
        (PropertyFilter("paid", Operator.EXACT, ("true",)), True),
        (PropertyFilter("blank", Operator.EXACT, ("",)), True),
        (PropertyFilter("missing", Operator.EXACT, ("",)), False),
        (PropertyFilter("nothing", Operator.EXACT, ("null",)), False),
        (PropertyFilter("plan", Operator.IS_NOT, ("pro",)), False),
        (PropertyFilter("plan", Operator.IS_NOT, ("team", "free")), True),
        (PropertyFilter("missing", Operator.IS_NOT, ("pro",)), True),  # negative: true where missing
        (PropertyFilter("nothing", Operator.IS_NOT, ("pro",)), True),  # a JSON null is missing
        (PropertyFilter("url", Operator.ICONTAINS, ("PRICING",)), True),
        (PropertyFilter("url", Operator.ICONTAINS, ("nope", "ref=")), True),
        (PropertyFilter("missing", Operator.ICONTAINS, ("",)), False),
        (PropertyFilter("url", Operator.NOT_ICONTAINS, ("pricing",)), False),
        (PropertyFilter("url", Operator.NOT_ICONTAINS, ("nope", "ads")), False),
        (PropertyFilter("url", Operator.NOT_ICONTAINS, ("nope", "other")), True),
        (PropertyFilter("missing", Operator.NOT_ICONTAINS, ("a", "b")), True),
        (PropertyFilter("blank", Operator.IS_SET), True),
        (PropertyFilter("nothing", Operator.IS_SET), False),
        (PropertyFilter("missing", Operator.IS_SET), False),
        (PropertyFilter("missing", Operator.IS_NOT_SET), True),
        (PropertyFilter("nothing", Operator.IS_NOT_SET), True),
        (PropertyFilter("plan", Operator.IS_NOT_SET), False),
    ],
)
def test_each_operator_on_a_deliverys_properties(condition, matches):
    assert condition.matches(PROPERTIES) is matches


@pytest.mark.parametrize(
    ("condition", "hogql"),
    [
        (PropertyFilter("plan", Operator.EXACT, ("pro",)), "properties.plan = 'pro'"),
        (PropertyFilter("plan", Operator.EXACT, ("pro", "team")), "properties.plan IN ('pro', 'team')"),
        (PropertyFilter("plan", Operator.IS_NOT, ("free",)), "properties.plan != 'free'"),
        (PropertyFilter("plan", Operator.IS_NOT, ("a", "b")), "properties.plan NOT IN ('a', 'b')"),
        (PropertyFilter("$host", Operator.ICONTAINS, ("shop",)), "toString(properties.$host) ILIKE '%shop%'"),
        (
            PropertyFilter("utm", Operator.ICONTAINS, ("ads", "mail")),
            "(toString(properties.utm) ILIKE '%ads%' OR toString(properties.utm) ILIKE '%mail%')",
        ),
        (
            PropertyFilter("utm", Operator.NOT_ICONTAINS, ("ads", "mail")),
            "(toString(properties.utm) NOT ILIKE '%ads%' AND toString(properties.utm) NOT ILIKE '%mail%')",
        ),
        (PropertyFilter("coupon", Operator.IS_SET), "properties.coupon IS NOT NULL"),
        (PropertyFilter("coupon", Operator.IS_NOT_SET), "properties.coupon IS NULL"),
        (PropertyFilter("plan type", Operator.EXACT, ("pro",)), "properties['plan type'] = 'pro'"),
        (PropertyFilter("1st", Operator.IS_SET), "properties['1st'] IS NOT NULL"),
        (PropertyFilter("it's", Operator.EXACT, ("O'Brien\\",)), "properties['it\\'s'] = 'O\\'Brien\\\\'"),
    ],
)
def test_each_operator_in_hogql(condition, hogql):
    assert condition.hogql() == hogql


def test_a_filter_round_trips_through_its_json_shape():
    for condition in (
        PropertyFilter("plan", Operator.EXACT, ("pro", "team")),
        PropertyFilter("coupon", Operator.IS_NOT_SET),
    ):
        assert parse_filter(condition.to_json(), metric="'m'", field="properties[0]") == condition


def test_a_bad_filter_names_its_field():
    with pytest.raises(InvalidMetricDefinition) as caught:
        parse_filter(
            {"key": "plan", "operator": "exact", "value": {"a": 1}}, metric="'m'", field="properties[2]"
        )
    assert (caught.value.metric, caught.value.field) == ("'m'", "properties[2].value")
