"""Per-metric alerts: a metric's sharp drop (`drop_alert`) and off target (`target`, judged by
`better`) on the last complete week, each sent once when it starts and once when it clears,
by mail (real SMTP on loopback) and webhook (loopback); migration 0009 keeps old alerts' meaning."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from metrics import reports
from metrics.core import weeks
from metrics.models import Alert, Metric
from metrics.reports import alerts
from tests.support.kpis import define, store

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def channels(settings, smtp_server, alert_hook):
    settings.VISITORSYNC_ALERT_RECIPIENTS = ["ops@example.test"]
    settings.VISITORSYNC_ALERT_DROP = 0.99  # keep the visitors' own drop alert out of the way
    return smtp_server, alert_hook


def _subjects(smtp_server, hook) -> list[str]:
    mailed = [m["Subject"] for _, m in smtp_server.messages]
    assert mailed == [post["text"].splitlines()[0] for post in hook.posts]  # same on both channels
    return mailed


def _weeks(**this_week: float) -> None:
    week = reports.last_complete_week()
    store(week - weeks.ONE_WEEK, visitors=1000, signups=50, revenue=6000, refunds=1)
    store(week, visitors=1000, **this_week)


def test_a_metric_drop_starts_once_clears_once_and_starts_again(channels):
    smtp_server, hook = channels
    define()
    Metric.objects.filter(key="revenue").update(drop_alert=0.5, target=None)
    Metric.objects.exclude(key="revenue").update(target=None)
    _weeks(revenue=2000, signups=50)  # revenue -67%
    alerts.check()
    alerts.check()
    assert _subjects(smtp_server, hook) == ["[visitorsync] Sharp drop in a metric: revenue"]
    assert "Revenue (revenue) in the week of" in hook.posts[0]["text"]
    assert (
        "fell to €2,000.00 from €6,000.00 the week before (-67%, more than its drop alert of 0.5)"
        in (hook.posts[0]["text"])
    )
    _weeks(revenue=4000, signups=50)  # -33%: cleared
    alerts.check()
    alerts.check()
    assert _subjects(smtp_server, hook)[1:] == ["[visitorsync] Resolved: Sharp drop in a metric: revenue"]
    _weeks(revenue=100, signups=50)
    alerts.check()
    assert _subjects(smtp_server, hook)[2:] == ["[visitorsync] Sharp drop in a metric: revenue"]
    assert Alert.objects.filter(kind="metric_drop", subject="revenue").count() == 2
    assert Alert.objects.filter(kind="metric_drop", resolved_at__isnull=True).count() == 1


def test_off_target_respects_better_and_each_metric_has_its_own_alert(channels):
    smtp_server, hook = channels
    define()  # targets: signups 40 (higher), revenue 5000, signup_rate 0.03, refunds 3 (lower)
    _weeks(signups=45, revenue=5000, refunds=5)  # only refunds off: 5 is above its 3
    alerts.check()
    # signups 45 >= 40, revenue 5000 >= 5000, the rate 45 / 1000 = 4.5% >= 3%: met
    assert _subjects(smtp_server, hook) == ["[visitorsync] Metric off target: refunds"]
    assert "Refunds (refunds) in the week of" in hook.posts[0]["text"]
    assert "was 5, above its target of 3 (lower is better)" in hook.posts[0]["text"]
    _weeks(signups=20, revenue=5000, refunds=2)  # signups and the rate drop below; refunds clear
    alerts.check()
    alerts.check()
    assert sorted(_subjects(smtp_server, hook)[1:]) == [
        "[visitorsync] Metric off target: signup_rate",
        "[visitorsync] Metric off target: signups",
        "[visitorsync] Resolved: Metric off target: refunds",
    ]
    rate = Alert.objects.get(subject="signup_rate", resolved_at__isnull=True).message
    assert "was 2.0%, below its target of 3.0% (higher is better)" in rate
    assert Alert.objects.filter(kind="off_target", resolved_at__isnull=True).count() == 2


def test_a_ratio_over_zero_and_a_missing_week_alert_nothing(channels):
    smtp_server, hook = channels
    define({"key": "signup_rate", "name": "Signup rate", "kind": "ratio", "numerator": "pageviews",
            "denominator": "visitors", "target": 0.5, "drop_alert": 0.1})  # fmt: skip
    alerts.check()  # no week stored at all
    store(reports.last_complete_week(), visitors=0, pageviews=10)
    alerts.check()
    assert _subjects(smtp_server, hook) == [] and not Alert.objects.exists()


def test_an_alert_of_a_metric_no_longer_watched_clears(channels):
    smtp_server, hook = channels
    define()
    Metric.objects.exclude(key="signups").update(target=None)
    _weeks(signups=10)
    alerts.check()
    assert _subjects(smtp_server, hook) == ["[visitorsync] Metric off target: signups"]
    Metric.objects.filter(key="signups").delete()
    alerts.check()
    alerts.check()
    assert _subjects(smtp_server, hook)[1:] == ["[visitorsync] Resolved: Metric off target: signups"]


def test_one_open_alert_per_kind_and_subject():
    Alert.objects.create(kind="drop", message="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(kind="drop", message="b")
    Alert.objects.create(kind="off_target", subject="signups", message="c")
    Alert.objects.create(kind="off_target", subject="revenue", message="d")
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(kind="off_target", subject="revenue", message="e")


def test_the_migration_keeps_existing_alerts_one_open_per_kind():
    executor = MigrationExecutor(connection)
    executor.migrate([("metrics", "0008_metric_restate_since")])
    old = executor.loader.project_state([("metrics", "0008_metric_restate_since")]).apps.get_model(
        "metrics", "Alert"
    )
    old.objects.create(kind="drop", message="Visitors fell.")
    old.objects.create(kind="stale", message="No sync.")
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert sorted(Alert.objects.values_list("kind", "subject", "message")) == [
        ("drop", "", "Visitors fell."),
        ("stale", "", "No sync."),
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(kind="drop", message="again")


@pytest.mark.parametrize("count", [1, 12])
def test_the_checks_queries_do_not_grow_with_the_metrics(django_assert_max_num_queries, count):
    """Every metric off target and its alert open (the steady state after its start): the open
    alerts are read once, not once per condition."""
    for n in range(count):
        define({"key": f"m{n}", "name": f"M{n}", "kind": "count", "events": [f"e{n}"], "target": 10})
    store(reports.last_complete_week(), visitors=5)  # every metric 0, below its target
    alerts.check()
    assert Alert.objects.filter(kind=Alert.Kind.OFF_TARGET, resolved_at__isnull=True).count() == count
    # the open alerts, the weeks, the definitions, the MetricValue rows, the last run, the
    # stale check's, the quiet webhook check's four: 10 whatever the number of metrics
    with django_assert_max_num_queries(10):
        alerts.check()
    assert Alert.objects.filter(kind=Alert.Kind.OFF_TARGET, resolved_at__isnull=True).count() == count
