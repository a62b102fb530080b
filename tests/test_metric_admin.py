"""The admin for user-defined metrics: the editor (create, edit, refusals on their field, the
built-ins' limits, delete refusals), the weekly list's columns, the chart's panels, and the
preview against `responses` mocks of PostHog."""

import dataclasses
import json
import re
from http import HTTPStatus

import pytest
import responses

from metrics import catalog
from metrics.admin.preview_query import preview_weeks
from metrics.core import weeks
from metrics.models import Metric, MetricValue, WeeklyMetric
from tests.support.admin import messages_of, staff
from tests.support.helpers import QUERY_URL
from tests.support.kpis import define

ADD_URL = "/admin/metrics/metric/add/"
PREVIEW_URL = "/admin/metrics/metric/preview/"
LIST_URL = "/admin/metrics/weeklymetric/"


def change_url(key: str) -> str:
    return f"/admin/metrics/metric/{Metric.objects.get(key=key).pk}/change/"


def form(**fields) -> dict:
    """A full POST of the metric form: a count metric unless `fields` say otherwise."""
    data = {
        "key": "signups", "name": "Signups", "kind": "count", "events": "signed_up", "properties": "",
        "sum_property": "", "numerator": "", "denominator": "", "unit": "", "target": "", "better": "higher",
        "in_report": "on", "in_admin_list": "on", "order": "0", "drop_alert": "",
    }  # fmt: skip
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def field_errors(response) -> dict[str, list[str]]:
    return {name: list(errors) for name, errors in response.context["adminform"].form.errors.items()}


# --- The editor ------------------------------------------------------------------------------
def test_create_reads_comma_separated_events_and_json_properties(admin_client):
    properties = '[{"key": "plan", "operator": "exact", "value": ["pro", "team"]}]'
    response = admin_client.post(
        ADD_URL, form(kind="unique", events="purchase, subscription_renewed", properties=properties)
    )
    assert response.status_code == HTTPStatus.FOUND, field_errors(response)
    signups = next(d for d in catalog.stored() if d.key == "signups")
    assert signups.events == ("purchase", "subscription_renewed")
    assert [c.to_json() for c in signups.properties] == json.loads(properties)
    row = Metric.objects.get(key="signups")
    assert row.events == ["purchase", "subscription_renewed"] and row.unit == "number"


def test_edit_keeps_the_key_and_shows_events_as_text(admin_client, db):
    define(
        dict(key="revenue", name="Revenue", kind="sum", events=["purchase"], property="amount", unit="EUR")
    )
    page = admin_client.get(change_url("revenue"))
    assert 'value="purchase"' in page.content.decode() and 'name="key"' not in page.content.decode()
    response = admin_client.post(
        change_url("revenue"),
        form(key="changed", name="Revenue (EUR)", kind="sum", events="purchase", sum_property="amount",
             unit="EUR", target="5000"),
    )  # fmt: skip
    assert response.status_code == HTTPStatus.FOUND, field_errors(response)
    revenue = next(d for d in catalog.stored() if d.key == "revenue")
    assert revenue.name == "Revenue (EUR)" and revenue.target == 5000.0
    assert not Metric.objects.filter(key="changed").exists()


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"key": "Sign Ups"}, "key", "lower-case letters"),
        ({"key": "visitors"}, "key", "already exists"),
        ({"events": ""}, "events", "one or more event names"),
        ({"properties": "[{"}, "properties", "Not JSON"),
        ({"properties": '[{"key": "plan", "operator": "equals", "value": ["pro"]}]'}, "properties", "equals"),
        ({"kind": "sum"}, "sum_property", "numeric event property"),
        ({"kind": "ratio", "numerator": "nothing", "denominator": "visitors"}, "numerator", "no metric"),
        ({"unit": "percent"}, "unit", "not a unit of a count metric"),
        ({"drop_alert": "1.5"}, "drop_alert", "between 0 and 1"),
    ],
)
def test_invalid_definitions_are_refused_on_their_field(admin_client, fields, field, words):
    response = admin_client.post(ADD_URL, form(**fields))
    assert response.status_code == HTTPStatus.OK
    errors = field_errors(response)
    assert field in errors and any(words in error for error in errors[field]), errors
    assert not Metric.objects.filter(key="signups").exists()


def test_a_ratio_of_a_ratio_is_refused_on_the_numerator(admin_client, db):
    define(dict(key="signups", name="Signups", kind="count", events=["signed_up"]))
    define(
        dict(key="signup_rate", name="Signup rate", kind="ratio", numerator="signups", denominator="visitors")
    )
    response = admin_client.post(
        ADD_URL, form(key="odd", name="Odd", kind="ratio", numerator="signup_rate", denominator="visitors")
    )
    assert "is a ratio itself" in field_errors(response)["numerator"][0]


def test_a_built_in_edits_only_how_it_is_shown(admin_client, db):
    url = change_url("visitors")
    page = admin_client.get(url).content.decode()
    assert "VISITORSYNC_EVENT" in page
    for name in ("key", "kind", "events", "properties", "numerator"):
        assert f'name="{name}"' not in page, name
    response = admin_client.post(
        url,
        form(key="x", name="Unique visitors", kind="count", events="other", target="1200", order="-1"),
    )
    assert response.status_code == HTTPStatus.FOUND, field_errors(response)
    visitors = next(d for d in catalog.stored() if d.key == "visitors")
    assert (visitors.name, visitors.target, visitors.order, str(visitors.kind)) == (
        "Unique visitors", 1200.0, -1, "unique",
    )  # fmt: skip
    assert Metric.objects.get(key="visitors").events == []


def test_delete_refuses_a_built_in_and_a_ratios_operand_naming_the_ratio(admin_client, db):
    define(dict(key="signups", name="Signups", kind="count", events=["signed_up"]))
    define(
        dict(key="signup_rate", name="Signup rate", kind="ratio", numerator="signups", denominator="visitors")
    )
    for key, words in (("visitors", "'visitors' is built in"), ("signups", "the ratio 'signup_rate' uses")):
        url = change_url(key).replace("/change/", "/delete/")
        response = admin_client.post(url, {"post": "yes"})
        assert response.status_code == HTTPStatus.FOUND
        assert any(words in message for message in messages_of(response)), messages_of(response)
        assert Metric.objects.filter(key=key).exists()
    # Once the ratio is gone, the count goes, with its numbers.
    signups = Metric.objects.get(key="signups")
    MetricValue.objects.create(metric=signups, week_start=weeks.current_week_start())
    for key in ("signup_rate", "signups"):
        url = change_url(key).replace("/change/", "/delete/")
        assert admin_client.post(url, {"post": "yes"}).status_code == HTTPStatus.FOUND
        assert not Metric.objects.filter(key=key).exists()
    assert MetricValue.objects.count() == 0


def test_staff_needs_djangos_permissions(client, db):
    client.force_login(staff("viewer", "view_metric"))
    assert client.get("/admin/metrics/metric/").status_code == HTTPStatus.OK
    assert client.get(ADD_URL).status_code == HTTPStatus.FORBIDDEN
    assert client.post(ADD_URL, form()).status_code == HTTPStatus.FORBIDDEN
    assert client.post(PREVIEW_URL, form()).status_code == HTTPStatus.FORBIDDEN
    assert not Metric.objects.filter(key="signups").exists()


def test_the_metric_list_shows_every_metric(admin_client, db):
    define(
        dict(key="revenue", name="Revenue", kind="sum", events=["purchase"], property="amount", unit="EUR")
    )
    page = admin_client.get("/admin/metrics/metric/").content.decode()
    for text in ("visitors", "pageviews", "revenue", "VISITORSYNC_EVENT", "purchase", "EUR"):
        assert text in page, text


# --- The preview -----------------------------------------------------------------------------
def sent_query() -> str:
    return json.loads(responses.calls[0].request.body)["query"]["query"]


@responses.activate
def test_preview_sends_one_query_and_shows_eight_weeks(admin_client):
    first, last = preview_weeks()
    # The sync's grouped answer: week, visitors, pageviews, then the metric's column.
    rows = [[(first + weeks.ONE_WEEK * i).isoformat(), i, 3 * i, 10 * i + 0.5] for i in range(8) if i != 2]
    responses.post(QUERY_URL, json={"results": rows, "hasMore": False})
    response = admin_client.post(
        PREVIEW_URL,
        form(key="revenue", name="Revenue", kind="sum", events="purchase", sum_property="amount", unit="EUR",
             properties='[{"key": "plan", "operator": "is_not", "value": ["free"]}]'),
    )  # fmt: skip
    assert response.status_code == HTTPStatus.OK and len(responses.calls) == 1
    cells = re.findall(r'<td class="vs-num" data-week="([0-9-]+)">([^<]*)</td>', response.content.decode())
    assert [week for week, _ in cells] == [(first + weeks.ONE_WEEK * i).isoformat() for i in range(8)]
    assert [text for _, text in cells] == [
        "€0.50", "€10.50", "€0.00", "€30.50", "€40.50", "€50.50", "€60.50", "€70.50",
    ]  # fmt: skip
    query = sent_query()
    assert "sumIf(toFloat(properties.amount), event IN ('purchase') AND properties.plan != 'free'" in query
    assert "isFinite(toFloat(properties.amount))" in query
    assert not Metric.objects.filter(key="revenue").exists()  # nothing saved
    assert last == weeks.current_week_start()


@responses.activate
def test_preview_of_a_ratio_asks_for_both_operands_in_one_query(admin_client, db):
    define(dict(key="signups", name="Signups", kind="count", events=["signed_up"]))
    first, _ = preview_weeks()
    rows = [[(first + weeks.ONE_WEEK * i).isoformat(), 4 * i, 5 * i, i] for i in range(8)]
    responses.post(QUERY_URL, json={"results": rows, "hasMore": False})
    response = admin_client.post(
        PREVIEW_URL, form(key="rate", name="Rate", kind="ratio", events="", numerator="signups",
                          denominator="visitors"),
    )  # fmt: skip
    cells = re.findall(r'<td class="vs-num" data-week="[0-9-]+">([^<]*)</td>', response.content.decode())
    assert cells == ["-", *["25.0%"] * 7]  # week 0: 0 of 0 visitors, no ratio
    assert len(responses.calls) == 1
    query = sent_query()
    # The sync's own query: visitors is one of its columns, signups asked for beside it.
    assert "uniqExactIf(person_id, event IN ('$pageview')) AS visitors" in query
    assert "countIf(event IN ('signed_up')) AS m_1" in query


@responses.activate
def test_preview_shows_form_errors_and_sends_nothing(admin_client):
    response = admin_client.post(PREVIEW_URL, form(events=""))
    assert b'id="preview-errors"' in response.content and b"one or more event names" in response.content
    assert len(responses.calls) == 0


@responses.activate
def test_preview_says_when_posthog_is_not_configured(admin_client, settings):
    settings.POSTHOG_API_KEY = ""
    response = admin_client.post(PREVIEW_URL, form())
    assert b'id="preview-not-configured"' in response.content
    assert b"POSTHOG_API_KEY is not set" in response.content
    assert len(responses.calls) == 0


@responses.activate
def test_preview_shows_posthogs_refusal(admin_client):
    responses.post(QUERY_URL, json={"detail": "Unsupported function call"}, status=400)
    response = admin_client.post(PREVIEW_URL, form())
    assert b'id="preview-error"' in response.content and b"Unsupported function call" in response.content


def test_the_form_has_the_preview_button(admin_client, db):
    page = admin_client.get(ADD_URL).content.decode()
    assert f'formaction="{PREVIEW_URL}"' in page and 'formtarget="vs-preview-frame"' in page
    page = admin_client.get(change_url("visitors")).content.decode()
    assert f'formaction="{PREVIEW_URL}?id={Metric.objects.get(key="visitors").pk}"' in page


# --- The weekly list and the chart -----------------------------------------------------------
@pytest.fixture
def four_metrics(db):
    """Two weeks (the second with no visitors), signups, revenue with a target, a signup rate
    and a metric kept out of the list; MetricValue rows written directly (no row: 0)."""
    current = weeks.current_week_start()
    earlier, later = current - weeks.ONE_WEEK * 2, current - weeks.ONE_WEEK
    WeeklyMetric.objects.create(week_start=earlier, visitors=200, pageviews=900)
    WeeklyMetric.objects.create(week_start=later, visitors=0, pageviews=0)
    define(dict(key="signups", name="Signups", kind="count", events=["signed_up"], order=1))
    define(dict(key="revenue", name="Revenue", kind="sum", events=["purchase"], property="amount", unit="EUR",
                target=5000, order=2))  # fmt: skip
    define(dict(key="signup_rate", name="Signup rate", kind="ratio", numerator="signups",
                denominator="visitors", order=3))  # fmt: skip
    define(dict(key="hidden", name="Hidden", kind="count", events=["x"], in_admin_list=False, order=4))
    metric = {row.key: row for row in Metric.objects.all()}
    MetricValue.objects.create(metric=metric["signups"], week_start=earlier, value=10)
    MetricValue.objects.create(metric=metric["signups"], week_start=later, value=3)
    MetricValue.objects.create(metric=metric["revenue"], week_start=earlier, value=1234.5)
    MetricValue.objects.create(metric=metric["hidden"], week_start=earlier, value=7)
    return earlier, later


def cells(page: str, column: str) -> list[str]:
    """The column's cells, newest week first, without their markup."""
    found = re.findall(rf'<td class="field-{column}">(.*?)</td>', page, re.S)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in found]


def test_the_list_has_a_column_per_listed_metric_in_its_unit(admin_client, four_metrics):
    page = admin_client.get(LIST_URL).content.decode()
    headers = re.findall(r'<th scope="col" class="[^"]*column-(\w+)', page)
    assert headers[:5] == [
        "week", "visitors_display", "pageviews_display", "metric_signups", "metric_revenue",
    ]  # fmt: skip
    assert headers[5] == "metric_signup_rate" and "metric_hidden" not in headers
    assert cells(page, "metric_signups") == ["3", "10"]
    assert cells(page, "metric_revenue") == ["0.00", "1,234.50"]  # the header names EUR
    assert 'title="€1,234.50">1,234.50</span>' in page and "Revenue (EUR)</span>" in page
    # 10 signups of 200 visitors; no ratio where the week has no visitors.
    assert cells(page, "metric_signup_rate") == ["-", "5.0%"]
    assert 'title="denominator is 0"' in page


def test_a_built_in_left_out_of_the_list_has_no_column(admin_client, four_metrics):
    visitors = Metric.objects.get(key="visitors")
    response = admin_client.post(
        change_url("visitors"), form(name="Visitors", in_admin_list=None, order=str(visitors.order))
    )
    assert response.status_code == HTTPStatus.FOUND, field_errors(response)
    page = admin_client.get(LIST_URL).content.decode()
    assert 'class="field-visitors_display"' not in page and 'class="field-pageviews_display"' in page
    assert cells(page, "metric_signup_rate") == ["-", "5.0%"]  # its operand is still read


@pytest.mark.parametrize("count", [3, 30])
def test_the_list_query_count_does_not_grow_with_weeks_or_metrics(
    admin_client, four_metrics, django_assert_num_queries, count
):
    current = weeks.current_week_start()
    for offset in range(3, 3 + count):
        WeeklyMetric.objects.create(week_start=current - weeks.ONE_WEEK * offset, visitors=offset)
    # the 12 of tests/test_admin.py, and the metric values of the page's weeks, the chart's and
    # the headline's (the read model's one query each)
    with django_assert_num_queries(15):
        assert admin_client.get(LIST_URL).status_code == HTTPStatus.OK


def test_the_chart_has_a_panel_per_listed_metric_with_its_target_line(admin_client, four_metrics):
    page = admin_client.get(LIST_URL).content.decode()
    for key in ("signups", "revenue", "signup_rate"):
        assert f'id="metric-panel-{key}"' in page, key
    assert 'id="metric-panel-hidden"' not in page
    assert 'id="metric-target-revenue"' in page and "target €5,000.00 per week" in page
    assert 'id="metric-target-signups"' not in page
    panels = {panel.key: panel for panel in admin_client.get(LIST_URL).context["metric_panels"]}
    revenue = panels["revenue"]
    # The scale reaches the target: 5,000 is its top line; 1,234.50 sits a quarter of the way up.
    assert revenue.target_y == revenue.top and revenue.ticks[-1].label == "5,000"
    assert [point.text for point in revenue.points] == ["€1,234.50", "€0.00"]
    assert revenue.points[0].y == pytest.approx(
        revenue.bottom - (revenue.bottom - revenue.top) * 1234.5 / 5000, abs=0.1
    )
    # No point for a week whose ratio has no denominator.
    assert [point.text for point in panels["signup_rate"].points] == ["5.0%"]
    assert panels["signup_rate"].ticks[-1].label.endswith("%")


def test_a_built_ins_target_is_a_line_across_its_panel(admin_client, four_metrics):
    page = admin_client.get(LIST_URL).content.decode()
    assert 'id="metric-target-visitors"' not in page and 'id="metric-target-pageviews"' not in page
    visitors = next(d for d in catalog.stored() if d.key == "visitors")
    catalog.save(dataclasses.replace(visitors, target=1500.0))
    response = admin_client.get(LIST_URL)
    chart = response.context["weekly_chart"]
    # The scale reaches the target (above the 200 visitors stored): 1,500 sits under its top.
    assert chart.visitors_target_y is not None and chart.visitors_top < chart.visitors_target_y
    assert chart.visitors_ticks[-1].label == "2,000" and chart.pageviews_target_y is None
    page = response.content.decode()
    assert 'id="metric-target-visitors"' in page and "Target per week (visitors 1500)" in page
