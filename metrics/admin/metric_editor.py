"""The metric editor: the Metric list and form, the preview, and a delete that can be refused.

Every write goes through `metrics.catalog` (`save`, `delete`), which checks the definition
with all the others; the form (`metric_form.py`) shows a refusal on its field first. The
built-ins `visitors` and `pageviews` count VISITORSYNC_EVENT: only how they are shown (name,
unit, target, report and list, order, drop alert) is edited here. Permissions are Django's
(add, change, delete, view metric).
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.clickjacking import xframe_options_sameorigin

from metrics import catalog
from metrics.admin.metric_form import BUILT_IN_FIXED, MetricForm
from metrics.admin.metric_text import formatted, target_text
from metrics.admin.preview_query import PREVIEW_WEEKS, run_preview
from metrics.core import counting
from metrics.core.definitions import BUILT_IN_KEYS
from metrics.core.errors import InvalidMetricDefinition, PostHogError, PostHogNotConfigured
from metrics.models import Metric
from metrics.presentation import error_text

# Said on the list and the form of a metric pending restatement (catalog.pending_restatement).
PENDING = "its definition is new or changed; the next full sync restates its weeks."


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin):
    form = MetricForm
    list_display = [
        "key", "name", "kind", "events_text", "unit", "target_display", "in_report", "in_admin_list", "order",
        "restatement",
    ]  # fmt: skip
    list_display_links = ["key", "name"]
    ordering = ["order", "id"]

    class Media:
        css = {"all": ["metrics/admin.css"]}

    def get_fieldsets(self, request: HttpRequest, obj: Metric | None = None):
        what = ["key", "name", "kind"]
        counts = ["events_text"] if self._built_in(obj) else ["events", "properties", "sum_property"]
        return [
            (None, {"fields": what}),
            ("What it counts", {"fields": counts}),
            ("Ratio", {"fields": ["numerator", "denominator"], "classes": ["collapse"]}),
            (
                "How it is shown and watched",
                {"fields": ["unit", "target", "better", "in_report", "in_admin_list", "order", "drop_alert"]},
            ),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Metric | None = None):
        if self._built_in(obj):
            return [*BUILT_IN_FIXED, "events_text"]
        return ["key"] if obj is not None else []

    @admin.display(description="Events")
    def events_text(self, obj: Metric) -> str:
        if obj.key in BUILT_IN_KEYS:
            return format_html(
                '{} <span class="vs-quiet" title="{}">(VISITORSYNC_EVENT)</span>',
                ", ".join(counting.event_names()),
                "the built-ins count the events of this setting",
            )
        if obj.kind == "ratio":
            return f"{obj.numerator} / {obj.denominator}"
        return ", ".join(obj.events)

    @admin.display(description="Target per week", ordering="target")
    def target_display(self, obj: Metric) -> str:
        return "" if obj.target is None else target_text(obj)

    @admin.display(description="Stored weeks")
    def restatement(self, obj: Metric) -> str:
        """Pending restatement (catalog.pending_restatement, read from the row: no query)."""
        if obj.restate_since is None:
            return ""
        return format_html(
            '<span class="vs-status vs-status-running" title="{}">{}</span>',
            PENDING,
            "restated by the next full sync",
        )

    def save_model(self, request: HttpRequest, obj: Metric, form: MetricForm, change: bool) -> None:
        """Written through the catalog (checked with the stored metrics), never by `obj.save()`."""
        assert form.definition is not None  # a valid form has one
        catalog.save(form.definition)
        saved = Metric.objects.get(key=form.definition.key)
        obj.pk, obj.created_at, obj.updated_at = saved.pk, saved.created_at, saved.updated_at

    def get_actions(self, request: HttpRequest):
        # Django's bulk delete would skip the catalog's refusals; delete one at a time.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_view(self, request: HttpRequest, object_id: str, extra_context=None) -> HttpResponse:
        """Django's confirmation page, unless the catalog refuses (a built-in, a ratio's operand):
        then the metric's page, saying why. The delete itself is `catalog.delete`."""
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_delete_permission(request, obj):
            return super().delete_view(request, object_id, extra_context)
        refusal = catalog.deletion_refused(obj.key)
        if refusal is not None:
            self.message_user(request, f"Not deleted. {refusal.detail}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:metrics_metric_change", args=[obj.pk]))
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request: HttpRequest, obj: Metric) -> None:
        catalog.delete(obj.key)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("preview/", wrap(self.preview_view), name="metrics_metric_preview"),
            *super().get_urls(),
        ]

    def render_change_form(
        self, request: HttpRequest, context, add=False, change=False, form_url="", obj=None
    ):
        preview_url = reverse("admin:metrics_metric_preview")
        if obj is not None:
            preview_url += f"?id={obj.pk}"
        context = {**context, "preview_url": preview_url, "preview_weeks": PREVIEW_WEEKS}
        if obj is not None and obj.restate_since is not None:
            context["pending_restatement"] = f"{obj.name}: {PENDING}"
        return super().render_change_form(request, context, add, change, form_url, obj)

    @xframe_options_sameorigin  # shown in the form's preview frame
    def preview_view(self, request: HttpRequest) -> HttpResponse:
        return _preview(self, request)

    @staticmethod
    def _built_in(obj: Metric | None) -> bool:
        return obj is not None and obj.key in BUILT_IN_KEYS


def _preview(model_admin: MetricAdmin, request: HttpRequest) -> HttpResponse:
    """The unsaved form's definition, checked as on save, and its last weeks from ONE PostHog
    query; nothing is saved. Needs the add or change permission (what the form itself needs)."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    object_id = request.GET.get("id", "")
    obj = model_admin.get_object(request, object_id) if object_id.isdigit() else None
    allowed = (
        model_admin.has_change_permission(request, obj)
        if obj is not None
        else model_admin.has_add_permission(request)
    )
    if not allowed:
        raise PermissionDenied
    form_class = model_admin.get_form(request, obj, change=obj is not None)
    form = form_class(request.POST, instance=obj)
    context: dict = {"form": form, "preview_weeks": PREVIEW_WEEKS}
    if form.is_valid() and form.definition is not None:
        definition = form.definition
        context["definition"] = definition
        try:
            preview = run_preview(definition, stored=catalog.stored())
        except PostHogNotConfigured as err:
            context["not_configured"] = str(err)
        except (PostHogError, InvalidMetricDefinition) as err:
            context["error"] = error_text(err, details=True)
        else:
            context["preview"] = preview
            context["rows"] = [
                (week, formatted(week.value, unit=definition.unit, kind=definition.kind))
                for week in preview.weeks
            ]
    return render(request, "admin/metrics/metric/preview.html", context)
