"""Metric definition files the tests import: the issue's example, exactly as written there."""

ISSUE_EXAMPLE = """{"metrics": [
  {"key": "signups", "name": "Signups", "kind": "count", "events": ["signed_up"]},
  {"key": "pro_buyers", "name": "Pro buyers", "kind": "unique", "events": ["purchase"],
   "properties": [{"key": "plan", "operator": "exact", "value": ["pro"]}]},
  {"key": "revenue", "name": "Revenue", "kind": "sum", "events": ["purchase"], "property": "amount", "unit": "EUR", "target": 5000},
  {"key": "signup_rate", "name": "Signup rate", "kind": "ratio", "numerator": "signups", "denominator": "visitors"}
]}"""  # noqa: E501
