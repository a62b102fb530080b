"""The metric form: friendly inputs, read into a definition and checked as every definition is.

`clean()` writes the form's fields in the file's shape and reads them with
`metrics.core.definitions.parse_definition`, then checks the definition together with the
stored ones (`check_together`, the same check `metrics.catalog.save` makes): one set of rules
for the admin, the import and the export. A refusal names a field: it is shown on that field.
"""

import json
from typing import Any

from django import forms

from metrics import catalog
from metrics.admin.metric_text import target_text
from metrics.core.definitions import (
    BUILT_IN_KEYS,
    Kind,
    MetricDefinition,
    check_together,
    merged,
    parse_definition,
)
from metrics.core.errors import InvalidMetricDefinition
from metrics.models import Metric

PROPERTIES_EXAMPLE = '[{"key": "plan", "operator": "exact", "value": ["pro", "team"]}]'
# The fields a built-in metric keeps from its settings (VISITORSYNC_EVENT) and its kind.
BUILT_IN_FIXED = ("key", "kind", "events", "properties", "sum_property", "numerator", "denominator")
# A definition's field (as InvalidMetricDefinition names it) -> the form's field.
_FORM_FIELD = {"property": "sum_property"}


class MetricForm(forms.ModelForm):
    events = forms.CharField(
        required=False,
        help_text="Event names, separated by commas, e.g. <code>signed_up</code> or "
        "<code>purchase, subscription_renewed</code> (count, unique and sum metrics).",
    )
    properties = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80, "class": "vLargeTextField"}),
        help_text="Optional conditions on event properties, all of which must hold, as JSON in "
        f"PostHog's property-filter shape (copy one from a PostHog insight), e.g. <code>{PROPERTIES_EXAMPLE}"
        "</code>. Operators: exact, is_not, icontains, not_icontains, is_set, is_not_set; a negative one "
        "also holds where the property is missing.",
    )
    unit = forms.CharField(
        required=False,
        max_length=10,
        help_text="<code>number</code>, a currency code such as <code>EUR</code> (sums and ratios) or "
        "<code>percent</code> (ratios). Empty: number, or percent for a ratio.",
    )

    class Meta:
        model = Metric
        fields = [
            "key", "name", "kind", "events", "properties", "sum_property", "numerator", "denominator",
            "unit", "target", "better", "in_report", "in_admin_list", "order", "drop_alert",
        ]  # fmt: skip
        labels = {"sum_property": "Property summed", "drop_alert": "Drop alert"}
        help_texts = {
            "key": "Its name in the API and the CSV: lower-case letters, digits and underscores, e.g. "
            "<code>signups</code>. It cannot change once saved.",
            "sum_property": "Sum metrics: the numeric event property added up, e.g. <code>amount</code>.",
            "numerator": "Ratio metrics: the key of the metric divided, e.g. <code>signups</code>.",
            "denominator": "Ratio metrics: the key of the metric divided by, e.g. <code>visitors</code>.",
            "target": "Optional: the week's target, drawn as a line on the chart.",
            "drop_alert": "Optional: alert when a week drops by this share from the last (0.5: halves).",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.definition: MetricDefinition | None = None
        instance = self.instance
        if instance.pk is not None:
            self.initial["events"] = ", ".join(instance.events or [])
            self.initial["properties"] = json.dumps(instance.properties) if instance.properties else ""
            if instance.target is not None:
                # 150, not 150.0; the help text says it in the metric's unit.
                target = instance.target
                self.initial["target"] = str(int(target)) if target.is_integer() else str(target)
                self.fields["target"].help_text += f" Now {target_text(instance)}."

    @property
    def built_in(self) -> bool:
        return self.instance.pk is not None and self.instance.key in BUILT_IN_KEYS

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        raw = self._raw(data)
        if raw is None:
            return data
        try:
            definition = parse_definition(raw)
            check_together(merged(catalog.stored(), [definition]))
        except InvalidMetricDefinition as err:
            self._refused(err)
            return data
        self.definition = definition
        return data

    def _raw(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """The form in the file's shape; None (with the error on its field) when the
        properties are not JSON. Fields that the kind does not use are left out."""
        instance = self.instance
        key = instance.key if instance.pk is not None else data.get("key", "")
        kind = instance.kind if self.built_in else data.get("kind")
        raw: dict[str, Any] = {"key": key, "name": data.get("name", ""), "kind": kind}
        if not self.built_in and kind != Kind.RATIO:
            raw["events"] = [name.strip() for name in data.get("events", "").split(",") if name.strip()]
            text = data.get("properties", "").strip()
            try:
                raw["properties"] = json.loads(text) if text else []
            except json.JSONDecodeError as err:
                self.add_error("properties", f"Not JSON ({err.msg} at character {err.pos + 1}).")
                return None
        if kind == Kind.SUM:
            raw["property"] = data.get("sum_property", "")
        if kind == Kind.RATIO:
            raw |= {"numerator": data.get("numerator", ""), "denominator": data.get("denominator", "")}
        if data.get("unit"):
            raw["unit"] = data["unit"].strip()
        for name in ("target", "drop_alert"):
            if data.get(name) is not None:
                raw[name] = data[name]
        raw |= {name: data.get(name) for name in ("better", "in_report", "in_admin_list")}
        raw["order"] = data.get("order") or 0
        return raw

    def _refused(self, err: InvalidMetricDefinition) -> None:
        field = _FORM_FIELD.get(err.field.split("[")[0].split(".")[0], err.field.split("[")[0])
        message = err.detail if field in self.fields else f"{err.field}: {err.detail}"
        self.add_error(field if field in self.fields else None, message)

    def _post_clean(self) -> None:
        # The model's own checks see the events and properties as the definition has them.
        if self.definition is not None and not self.built_in:
            self.cleaned_data["events"] = list(self.definition.events)
            self.cleaned_data["properties"] = [c.to_json() for c in self.definition.properties]
            self.cleaned_data["unit"] = self.definition.unit
        super()._post_clean()
