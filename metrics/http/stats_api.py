"""The read-only stats API door (`/api/stats/weekly`): the stored weeks as JSON or CSV."""

import datetime as dt
import hashlib
import json
import logging
import math
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

from metrics import numbers
from metrics.core import secrets, weeks
from metrics.core.errors import BadParameter
from metrics.http.params import allow_methods, bearer_refusal, date_parameter, single_values
from metrics.presentation import error_response

logger = logging.getLogger(__name__)

STATS_PARAMETERS = ("from", "to", "format")
STATS_FORMATS = ("json", "csv")


@csrf_exempt  # machine-to-machine, authenticated by a bearer token, never by a cookie
@allow_methods("GET")
def weekly_stats(request: HttpRequest) -> HttpResponse:
    """The stored weeks for spreadsheets and BI tools: `Authorization: Bearer <token>` with a
    token from VISITORSYNC_API_TOKENS (read-only; the cron secret is not accepted).

    `from`/`to` (dates, each snapped to the start of its week; default: the first stored
    week through the current one), `format=json|csv`. 200, 304 (ETag / Last-Modified),
    400 bad or unknown parameter, 401 missing or wrong token, 503 no token configured.
    """
    denied = _authenticate_api(request)
    if denied is not None:
        return denied
    try:
        first, last, output = _stats_parameters(request)
    except BadParameter as err:
        return error_response(HTTPStatus.BAD_REQUEST, str(err))
    table = numbers.read_weeks(numbers.weeks_between(first, last))
    if output == "csv":
        response = HttpResponse(
            numbers.write_csv(table.weeks, definitions=table.definitions),
            content_type="text/csv; charset=utf-8; header=present",
        )
        response["Content-Disposition"] = f'attachment; filename="{numbers.csv_filename(table.weeks)}"'
    else:
        document = {
            "ok": True,
            "from": first.isoformat() if first else None,
            "to": last.isoformat(),
            "current_week": weeks.current_week_start().isoformat(),
            "weeks": [numbers.week_json(week) for week in table.weeks],
        }
        response = HttpResponse(json.dumps(document), content_type="application/json")
    # Revalidated on every poll (the numbers change all week), cheaply: an unchanged answer is
    # a 304 without a body. Private: it is behind a token.
    response["ETag"] = f'"{hashlib.sha256(response.content).hexdigest()[:32]}"'
    last_modified = last_modified_second(table.last_modified)
    if last_modified <= timezone.now().timestamp():
        response["Last-Modified"] = http_date(last_modified)
    response["Cache-Control"] = "private, no-cache"
    patch_vary_headers(response, ["Authorization"])
    return get_conditional_response(
        request, etag=response["ETag"], last_modified=last_modified, response=response
    )


def last_modified_second(moment: dt.datetime) -> int:
    """The whole second HTTP dates can say for `moment`: rounded up, so that a later change is
    never dated before it.

    `Last-Modified` and the `If-Modified-Since` comparison both use this. The header is sent
    only once that second has begun: a representation read while its second is still running
    could be followed by another change in the same second, which would carry the same date
    and be answered 304 (then only the ETag tells them apart).
    """
    return math.ceil(moment.timestamp())


def _authenticate_api(request: HttpRequest) -> HttpResponse | None:
    """None if the request may read the stats, else the response that refuses it."""
    return bearer_refusal(
        request,
        secrets.api_tokens(),
        realm="visitorsync stats",
        not_set="VISITORSYNC_API_TOKENS is not set, so the stats API is disabled. Set it to one or more "
        "long random tokens (comma-separated) and send one as 'Authorization: Bearer <token>'.",
        wrong="Missing or wrong token: send 'Authorization: Bearer <token>' with a token from "
        "VISITORSYNC_API_TOKENS.",
        log="stats API: missing or wrong bearer token from %s",
    )


def _stats_parameters(request: HttpRequest) -> tuple[dt.date | None, dt.date, str]:
    """(first week start or None, last week start, format) from the query string."""
    single = single_values((request.GET,), STATS_PARAMETERS)
    for name, value in single.items():
        if not value:  # a spreadsheet's empty cell would otherwise silently mean "all weeks"
            raise BadParameter(f"{name} is empty; give a value or leave the parameter out.")
    first, last = date_parameter(single, "from"), date_parameter(single, "to")
    for name, day in (("from", first), ("to", last)):
        if day is not None and day < weeks.EARLIEST_DAY:
            raise BadParameter(
                f"{name}={day.isoformat()} is before {weeks.EARLIEST_DAY.isoformat()}; no week that "
                "old is stored. Give a later date."
            )
    if first is not None and last is not None and first > last:
        raise BadParameter(f"from={first.isoformat()} is after to={last.isoformat()}; swap them.")
    output = single.get("format", "json")
    if output not in STATS_FORMATS:
        raise BadParameter(f"format={single['format']!r} is not a format; use json or csv.")
    first = weeks.week_start_for_date(first) if first else None
    last = weeks.week_start_for_date(last) if last else weeks.current_week_start()
    return first, last, output
