"""Forms of the admin sync page."""

import datetime as dt

from django import forms

from metrics.core import weeks


class StartSyncForm(forms.Form):
    since = forms.DateField(
        required=False,
        label="Since",
        help_text="Optional: sync from the week of this date (creating weeks that are not stored "
        "yet). Leave empty to sync every stored week.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    dry_run = forms.BooleanField(
        required=False,
        label="Dry run",
        help_text="Ask PostHog and show what would change, but write nothing.",
    )

    def clean_since(self) -> dt.date | None:
        since = self.cleaned_data["since"]
        # Weeks are cut in VISITORSYNC_TIMEZONE, which may differ from Django's TIME_ZONE.
        if since is not None and weeks.week_start_for_date(since) > weeks.current_week_start():
            raise forms.ValidationError("That date is in a future week; pick today or an earlier day.")
        return since
