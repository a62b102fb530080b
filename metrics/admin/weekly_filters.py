"""The WeeklyMetric list's filter and change list: what Django's own would get wrong."""

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.http import HttpRequest


class SyncedFilter(admin.SimpleListFilter):
    title = "synced with PostHog"
    parameter_name = "synced"

    def lookups(self, request, model_admin):
        return [("yes", "Synced"), ("never", "Never synced")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(synced_at__isnull=False)
        if self.value() == "never":
            return queryset.filter(synced_at__isnull=True)
        return queryset


class WeeklyChangeList(ChangeList):
    """Django's list, with a date drill-down it cannot bound refused like any bad lookup."""

    def get_filters(self, request: HttpRequest):
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as err:
            # `week_start__year=9999` (no year 10000 to end it) or December 31 of 9999 (no next
            # day): Django lets these escape as a 500. IncorrectLookupParameters sends the list
            # to `?e=1` and the export back to the list, as for any other bad lookup.
            raise IncorrectLookupParameters(err) from err
