"""`thousands`: 12345 (or 12345.4) -> "12,345" in reports, whatever the locale settings say.
`ago`: a past moment as "just now", "5 minutes ago", "2 days, 3 hours ago"."""

from django import template

from metrics import presentation

register = template.Library()


@register.filter
def thousands(value) -> str:
    try:
        return f"{round(float(value)):,}"
    except (TypeError, ValueError):
        return ""


register.filter("ago", presentation.ago)
