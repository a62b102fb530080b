"""`thousands`: 12345 (or 12345.4) -> "12,345" in reports, whatever the locale settings say.
`ago`: a past moment as "just now", "5 minutes ago", "2 days, 3 hours ago"."""

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def thousands(value) -> str:
    try:
        return f"{round(float(value)):,}"
    except (TypeError, ValueError):
        return ""


@register.filter
def ago(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    if timezone.now() - moment < dt.timedelta(minutes=1):
        return "just now"  # timesince would say "0 minutes"
    return f"{timesince(moment)} ago"
