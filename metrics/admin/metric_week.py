"""Every metric of one week for the admin: what the webhook added since the last sync (the
list's "Via webhook" column) and the week's page table (its number, PostHog's at the last
sync, via webhook), all from the read model (`numbers.Week`), no query of its own.

"Via webhook" of every metric is `Week.from_webhook`: none before the week's first sync and
for a ratio; else its number less PostHog's at the last sync (all of it for a metric defined
since).
"""

from collections.abc import Sequence

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from metrics import catalog, numbers
from metrics.admin.metric_text import formatted
from metrics.core.definitions import Kind, MetricDefinition
from metrics.models import WeeklyMetric
from metrics.presentation import signed


def signed_text(delta: float, definition: MetricDefinition) -> str:
    """`delta` in the metric's unit with its sign: "+3", "+€12.50", "-1"."""
    text = formatted(delta, unit=definition.unit, kind=definition.kind)
    return f"+{text}" if delta > 0 else text


def since_sync_cell(week: numbers.Week, definitions: Sequence[MetricDefinition]) -> SafeString:
    """The list's "Via webhook" cell: visitors / pageviews as before, then a line per listed
    user-defined metric the webhook moved (`webhook_lines`)."""
    visitors, pageviews = week.from_webhook("visitors"), week.from_webhook("pageviews")
    if visitors is None:
        return format_html('<span class="vs-quiet">{}</span>', "not synced yet")
    return format_html(
        '<span title="{} visitors and {} pageviews from the webhook since the last sync">{} / {}</span>{}',
        signed(visitors),
        signed(pageviews or 0),
        signed(visitors),
        signed(pageviews or 0),
        webhook_lines(week, definitions),
    )


def webhook_lines(week: numbers.Week, definitions: Sequence[MetricDefinition]) -> SafeString:
    """A quiet line per user-defined metric of `definitions` that the webhook moved since the
    last sync ("Signups +3"); empty when none did (the built-ins alone read as before)."""
    moved = [
        (definition, delta)
        for definition in definitions
        if not definition.built_in and (delta := week.from_webhook(definition.key))
    ]
    return format_html_join(
        "",
        '<div class="vs-quiet vs-nowrap" title="{} from the webhook since the last sync">{} {}</div>',
        ((signed_text(delta, d), d.name, signed_text(delta, d)) for d, delta in moved),
    )


def _posthog_text(week: numbers.Week, definition: MetricDefinition) -> str:
    if definition.kind is Kind.RATIO:
        # PostHog's numbers of its two metrics at the last sync, divided the same way.
        parts = [week.posthog_values.get(key) for key in (definition.numerator, definition.denominator)]
        if parts[0] is None or parts[1] is None:
            return "not synced yet"
        return formatted(numbers.ratio(parts[0], parts[1]), unit=definition.unit, kind=definition.kind)
    posthog = week.posthog_values.get(definition.key)
    if posthog is None:
        return "not synced yet"
    return formatted(posthog, unit=definition.unit, kind=definition.kind)


def week_table(week: numbers.Week, definitions: Sequence[MetricDefinition]) -> SafeString:
    """The week's page: every metric's number, PostHog's at the last sync, and via webhook."""
    rows = []
    for definition in definitions:
        value = week.value(definition.key)
        delta = week.from_webhook(definition.key)
        rows.append(
            (
                definition.key,
                definition.name,
                formatted(value, unit=definition.unit, kind=definition.kind),
                _posthog_text(week, definition),
                "—" if delta is None else signed_text(delta, definition) if delta else "0",
            )
        )
    body = format_html_join(
        "",
        '<tr><th scope="row" title="{}">{}</th><td class="vs-num">{}</td><td class="vs-num">{}</td>'
        '<td class="vs-num">{}</td></tr>',
        rows,
    )
    return format_html(
        '<table class="vs-week-metrics" id="week-metrics"><thead><tr><th scope="col">Metric</th>'
        '<th scope="col">This week</th><th scope="col">PostHog at the last sync</th>'
        '<th scope="col">Via webhook since</th></tr></thead><tbody>{}</tbody></table>',
        body,
    )


@admin.display(description="Every metric")
def week_field(model_admin: admin.ModelAdmin, obj: WeeklyMetric) -> SafeString:
    """The week's page's table (a read-only field of the WeeklyMetric admin): the read model of
    this one week, in a fixed number of queries (the week around it, the definitions, the
    MetricValue rows)."""
    table = numbers.read_weeks([obj])
    week = table.week(obj.week_start)
    return week_table(week, table.definitions) if week is not None else SafeString("")


def pending_notes(definitions: Sequence[MetricDefinition]) -> list[str]:
    """A sentence per metric pending restatement (one query): its stored weeks still hold the
    old definition's numbers, or none, until a sync of every week counts it anew."""
    names = {definition.key: definition.name for definition in definitions}
    order = {key: index for index, key in enumerate(names)}
    return [
        f"{names.get(key, key)}: its definition is new or changed; the next full sync restates its weeks."
        for key in sorted(catalog.pending_restatement(), key=lambda key: order.get(key, len(order)))
    ]
