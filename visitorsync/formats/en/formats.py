"""English formats: one date and time format on every page, 2026-12-06 01:51 (in TIME_ZONE),
as the project's own templates and admin columns write it (metrics.presentation.moment_text)."""

DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
TIME_FORMAT = "H:i"
