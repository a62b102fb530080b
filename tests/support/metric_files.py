"""Metric definition files the tests and benches import: the issue's example, exactly as
written there, and a set with every kind and every property operator."""

ISSUE_EXAMPLE = """{"metrics": [
  {"key": "signups", "name": "Signups", "kind": "count", "events": ["signed_up"]},
  {"key": "pro_buyers", "name": "Pro buyers", "kind": "unique", "events": ["purchase"],
   "properties": [{"key": "plan", "operator": "exact", "value": ["pro"]}]},
  {"key": "revenue", "name": "Revenue", "kind": "sum", "events": ["purchase"], "property": "amount", "unit": "EUR", "target": 5000},
  {"key": "signup_rate", "name": "Signup rate", "kind": "ratio", "numerator": "signups", "denominator": "visitors"}
]}"""  # noqa: E501

# Every kind (count, unique, sum, ratio) and every operator, over signed_up and purchase events
# with `plan` and `amount` properties: tests/test_metric_sync.py, bench/metric_sync.py.
EVERY_OPERATOR = {
    "metrics": [
        {"key": "signups", "name": "Signups", "kind": "count", "events": ["signed_up"]},
        {
            "key": "pro_buyers",
            "name": "Pro buyers",
            "kind": "unique",
            "events": ["purchase"],
            "properties": [{"key": "plan", "operator": "exact", "value": ["pro"]}],
        },
        {"key": "revenue", "name": "Revenue", "kind": "sum", "events": ["purchase"], "property": "amount"},
        {
            "key": "paid_signups",
            "name": "Paid signups",
            "kind": "count",
            "events": ["signed_up"],
            "properties": [{"key": "plan", "operator": "is_not", "value": ["free"]}],
        },
        {
            "key": "team_purchases",
            "name": "Team purchases",
            "kind": "count",
            "events": ["purchase"],
            "properties": [{"key": "plan", "operator": "icontains", "value": ["TEA"]}],
        },
        {
            "key": "non_team_buyers",
            "name": "Non-team buyers",
            "kind": "unique",
            "events": ["purchase"],
            "properties": [{"key": "plan", "operator": "not_icontains", "value": ["tea"]}],
        },
        {
            "key": "planned_signups",
            "name": "Signups with a plan",
            "kind": "count",
            "events": ["signed_up"],
            "properties": [{"key": "plan", "operator": "is_set"}],
        },
        {
            "key": "planless_actions",
            "name": "Signups and purchases without a plan",
            "kind": "count",
            "events": ["signed_up", "purchase"],
            "properties": [{"key": "plan", "operator": "is_not_set"}],
        },
        {
            "key": "pro_revenue",
            "name": "Pro and team revenue",
            "kind": "sum",
            "events": ["purchase"],
            "property": "amount",
            "properties": [{"key": "plan", "operator": "exact", "value": ["pro", "team"]}],
        },
        {"key": "visits", "name": "Pageviews again", "kind": "count", "events": ["$pageview"]},
        {
            "key": "signup_rate",
            "name": "Signup rate",
            "kind": "ratio",
            "numerator": "signups",
            "denominator": "visitors",
        },
    ]
}
