"""What the HTTP doors share: JSON 405s, and reading query-string and form parameters strictly
(unknown or repeated parameters refused, dates and yes/no values checked)."""

import datetime as dt
import functools
import logging
import re
from collections.abc import Callable
from http import HTTPStatus

from django.http import HttpRequest, JsonResponse

from metrics.core import secrets
from metrics.core.errors import BadParameter
from metrics.core.logsafe import loggable
from metrics.presentation import error_response

logger = logging.getLogger(__name__)

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def allow_methods(*methods: str) -> Callable:
    """Like Django's require_http_methods, but the 405 is the JSON error every endpoint answers."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method not in methods:
                allowed = ", ".join(methods)
                response = error_response(
                    HTTPStatus.METHOD_NOT_ALLOWED, f"Method {request.method} not allowed: use {allowed}."
                )
                response["Allow"] = allowed
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def single_values(sources, accepted: tuple[str, ...]) -> dict[str, str]:
    """Each parameter's one value from `sources` (QueryDicts); unknown or repeated ones refused."""
    values: dict[str, list[str]] = {}
    for source in sources:
        for key in source:
            values.setdefault(key, []).extend(source.getlist(key))
    unknown = sorted(set(values) - set(accepted))
    if unknown:
        raise BadParameter(f"Unknown parameter(s): {', '.join(unknown)}. Accepted: {', '.join(accepted)}.")
    single: dict[str, str] = {}
    for key, items in values.items():
        if len(items) > 1:
            raise BadParameter(f"{key} is given {len(items)} times; give it once.")
        single[key] = items[0].strip()
    return single


def date_parameter(values: dict[str, str], name: str) -> dt.date | None:
    text = values.get(name)
    if not text:
        return None
    try:
        if not _DATE.match(text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadParameter(f"{name}={text!r} is not a date; use YYYY-MM-DD.") from None


def flag(values: dict[str, str], name: str) -> bool:
    text = values.get(name, "").lower()
    if text in TRUE:
        return True
    if text in FALSE or name not in values:
        return False
    raise BadParameter(f"{name}={values[name]!r} is not a yes/no value; use 1 or 0.")


def bearer_refusal(
    request: HttpRequest, accepted: tuple[bytes, ...], *, realm: str, not_set: str, wrong: str, log: str
) -> JsonResponse | None:
    """None if the request carries one of `accepted` as `Authorization: Bearer`, else the answer:
    503 `not_set` when none is configured, 401 `wrong` (logged with `log` % the client's address)."""
    if not accepted:
        return error_response(HTTPStatus.SERVICE_UNAVAILABLE, not_set)
    if secrets.secret_matches(secrets.bearer_token(request), accepted):
        return None
    logger.warning(log, loggable(request.META.get("REMOTE_ADDR")))
    return unauthorized(wrong, realm=realm)


def unauthorized(message: str, *, realm: str, **context: object) -> JsonResponse:
    """The 401 answer to a missing or wrong secret. Call it only once the refusal is logged:
    Django's `django.request` logger then leaves it alone."""
    response = error_response(HTTPStatus.UNAUTHORIZED, message, **context)
    response["WWW-Authenticate"] = f'Bearer realm="{realm}"'
    # Django's log_response() skips a response marked as logged, the flag it sets itself. Our
    # line says which door refused which client and why; Django's second WARNING
    # ("Unauthorized: /api/...") would only double every probe. Other 4xx keep Django's line.
    response._has_been_logged = True
    return response
