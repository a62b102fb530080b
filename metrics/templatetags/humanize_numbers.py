"""`thousands`: 12345 (or 12345.4) -> "12,345" in reports, whatever the locale settings say."""

from django import template

register = template.Library()


@register.filter
def thousands(value) -> str:
    try:
        return f"{round(float(value)):,}"
    except (TypeError, ValueError):
        return ""
