"""The weekly report's metric lines: every metric marked for the report, its change from the
week before, the same week last year, its target (met or missed, by `better`), in its unit."""

import pytest

from metrics import numbers, reports
from metrics.admin.metric_text import formatted
from metrics.core import weeks
from metrics.core.definitions import Kind
from metrics.models import Metric
from tests.support.kpis import define, store

pytestmark = pytest.mark.django_db


@pytest.fixture
def report_week():
    define()
    week = reports.last_complete_week()
    store(week - numbers.YEAR_BEFORE, visitors=500, signups=10, revenue=2500, refunds=0)
    store(week - weeks.ONE_WEEK, visitors=1000, signups=50, revenue=6000, refunds=5, pro_buyers=2)
    store(week, visitors=1200, signups=36, revenue=5000.5, refunds=3, pro_buyers=3)
    return week


def test_the_report_has_a_line_per_metric_in_the_report(report_week):
    report = reports.build_report()
    lines = {line.key: line for line in report.lines}
    assert list(lines) == ["signups", "revenue", "signup_rate", "refunds"]  # pro_buyers: not in_report
    signups = lines["signups"]
    assert (signups.value, signups.previous, signups.last_year) == (36, 50, 10)
    assert signups.change == pytest.approx(-0.28) and signups.change_from_last_year == pytest.approx(2.6)
    assert signups.met is False and signups.target_text == "missed (at least 40)"
    assert lines["revenue"].met is True and lines["revenue"].value_text == "€5,000.50"
    assert lines["revenue"].previous_text == "€6,000.00 (-16.7%)"
    rate = lines["signup_rate"]
    assert rate.value == pytest.approx(0.03) and rate.value_text == "3.0%" and rate.met is True
    assert rate.last_year_text == "2.0% (+50.0%)"
    refunds = lines["refunds"]  # lower is better: 3 is at most the target of 3
    assert refunds.met is True and refunds.target_text == "met (at most 3)"
    assert refunds.last_year_text == "0"  # from 0: no percentage


def test_the_mail_shows_the_lines_in_text_and_html(report_week):
    message = reports.render_report(reports.build_report(), to="a@example.test")
    [(html, _)] = message.alternatives
    assert "- Signups: 36; 50 (-28.0%); 10 (+260.0%); missed (at least 40)" in message.body
    assert "- Revenue: €5,000.50; €6,000.00 (-16.7%); €2,500.00 (+100.0%); met (at least €5,000.00)" in (
        message.body
    )
    assert "Pro buyers" not in message.body and "Pro buyers" not in html
    assert "Your metrics" in html and "€5,000.50" in html and "missed (at least 40)" in html


def test_a_built_in_appears_only_with_a_target_and_a_missing_week_says_so(report_week):
    Metric.objects.filter(key="visitors").update(target=1500)
    Metric.objects.exclude(key__in=["visitors", "signup_rate"]).update(in_report=False)
    week = reports.last_complete_week()
    store(week, visitors=0, signups=5)
    report = reports.build_report(week_start=week)
    assert [line.key for line in report.lines] == ["visitors", "signup_rate"]
    visitors, rate = report.lines
    assert visitors.met is False and visitors.target_text == "missed (at least 1,500)"
    assert rate.value is None and rate.value_text == "n/a" and rate.met is None  # over 0 visitors
    assert rate.target_text == "n/a (at least 3.0%)"
    older = reports.build_report(week_start=week - weeks.ONE_WEEK)
    assert older.lines[0].previous_text == "not stored"


def test_without_user_metrics_the_report_has_no_metric_section():
    week = reports.last_complete_week()
    store(week, visitors=10, pageviews=30)
    report = reports.build_report()
    assert report.lines == ()
    assert "Your metrics" not in reports.render_report(report, to="a@example.test").body


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1234, "number", "1,234"),
        (2.954, "number", "2.95"),
        (5000.0, "EUR", "€5,000.00"),
        (-12.5, "USD", "-$12.50"),
        (99.5, "CHF", "99.50 CHF"),
        (0.0342, "percent", "3.4%"),
        (None, "percent", "n/a"),
        (float("nan"), "number", "n/a"),
    ],
)
def test_units(value, unit, text):
    assert numbers.format_value(value, unit) == text


def test_a_ratio_shown_as_a_plain_number_reads_the_same_in_the_report_the_headline_and_the_admin(
    report_week,
):
    """Signups per visitor with three places everywhere (two would read 0.03 for 0.034)."""
    Metric.objects.filter(key="signup_rate").update(unit="number")
    store(report_week, visitors=1000, signups=34)
    [rate] = [line for line in reports.build_report().lines if line.key == "signup_rate"]
    assert rate.value_text == "0.034" and rate.target_text == "met (at least 0.030)"
    assert rate.previous_text == "0.050 (-32.0%)"
    [figure, *_] = numbers.headline(keys=["signup_rate"]).figures
    assert figure.value_text == "0.034" and figure.compared_label == "the week before (0.050)"
    assert formatted(0.034, unit="number", kind=Kind.RATIO) == "0.034"
    assert numbers.format_value(0.034, "number") == "0.03"  # not a ratio: two places
    # The admin's only differences: "-" for no number, a currency's compact column form.
    assert formatted(None, unit="number", kind=Kind.RATIO) == "-"
    assert formatted(12345.6, unit="EUR", kind=Kind.SUM, compact=True) == "12,346"
