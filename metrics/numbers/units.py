"""A metric's number as text, in its unit: what the weekly report and the alerts write.

`number`: thousands separated, whole numbers without a fraction and others with two places
(1,234 / 2.95); `percent` (ratios): the fraction times 100 with one place (3.4%); a currency
code: two places after its sign where it has a common one (€5,000.00, $12.50, £3.00) and after
the number otherwise (5,000.00 CHF). A ratio in `number` (signups per visitor) has three places
(0.034: two would read 0.03). None, a ratio over 0, is "n/a", and so is a number that is not
finite.

The report, the alerts, the headline and the admin all write a number through `format_value`;
the admin adds only its narrow columns' compact form and its "-" placeholder
(metrics.admin.metric_text).
"""

import math

from metrics.core.definitions import Kind

SIGNS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}


def format_value(value: float | None, unit: str, *, kind: Kind | None = None) -> str:
    """`value` in `unit` ("number", "percent" or a currency code) of a metric of `kind` (None:
    not a ratio), as the module says."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if unit == "percent":
        return f"{value * 100:,.1f}%"
    if unit != "number":
        amount = f"{value:,.2f}"
        sign = SIGNS.get(unit)
        if sign is None:
            return f"{amount} {unit}"
        return f"-{sign}{amount[1:]}" if amount.startswith("-") else f"{sign}{amount}"
    if kind is Kind.RATIO:
        return f"{value:,.3f}"
    if float(value).is_integer():
        return f"{round(value):,}"
    return f"{value:,.2f}"
