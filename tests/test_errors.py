"""One error family: every exception class under metrics/ derives from VisitorsyncError, also
from the Python or Django type that gives it meaning, and keeps its HTTP status."""

import importlib
import inspect
import pkgutil
from collections import Counter
from http import HTTPStatus
from pathlib import Path

import pytest
from django.core.exceptions import (
    BadRequest,
    ImproperlyConfigured,
    ObjectDoesNotExist,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)

import metrics
from metrics import reports, tracker
from metrics.core import errors
from metrics.core.errors import VisitorsyncError
from metrics.posthog import destination
from metrics.presentation import http_status_for
from metrics.reports import mail


def _exception_classes() -> set[type[BaseException]]:
    """Every exception class defined in a module under metrics/ (migrations aside)."""
    found = set()
    for info in pkgutil.walk_packages(metrics.__path__, "metrics."):
        if ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                found.add(value)
    return found


EXCEPTION_CLASSES = sorted(_exception_classes(), key=lambda cls: cls.__name__)


def test_every_error_is_defined_in_the_one_errors_module():
    assert {cls.__module__ for cls in EXCEPTION_CLASSES} == {"metrics.core.errors"}


@pytest.mark.parametrize("cls", EXCEPTION_CLASSES, ids=lambda cls: cls.__name__)
def test_every_exception_class_derives_from_visitorsync_error(cls):
    assert issubclass(cls, VisitorsyncError)


@pytest.mark.parametrize("cls", EXCEPTION_CLASSES, ids=lambda cls: cls.__name__)
def test_the_family_tree_in_the_docstring_names_every_class(cls):
    assert f" {cls.__name__} " in errors.__doc__ or f" {cls.__name__}\n" in errors.__doc__


@pytest.mark.parametrize(
    ("cls", "meaning"),
    [
        (tracker.InvalidSyncRequest, ValueError),
        (tracker.UnknownWeek, ObjectDoesNotExist),
        (tracker.UnknownWeek, ValueError),
        (tracker.NotConfigured, ImproperlyConfigured),
        (tracker.SyncNotConfigured, ImproperlyConfigured),
        (tracker.InvalidPageview, ValueError),
        (errors.PostHogNotConfigured, ImproperlyConfigured),
        (destination.WebhookNotConfigured, ImproperlyConfigured),
        (destination.WebhookUnauthorized, PermissionDenied),
        (destination.WebhookTooLarge, RequestDataTooBig),
        (destination.WebhookTooLarge, SuspiciousOperation),
        (destination.WebhookLengthRequired, BadRequest),
        (destination.WebhookBadPayload, ValueError),
        (reports.NoSuchWeek, ObjectDoesNotExist),
        (reports.ReportNotConfigured, ImproperlyConfigured),
        (reports.MailNotConfigured, ImproperlyConfigured),
        (errors.BadParameter, ValueError),
        (errors.UnreadableBody, ValueError),
        (errors.ScheduleError, ValueError),
        (errors.InvalidMetricDefinition, ValueError),
    ],
)
def test_errors_also_derive_from_the_type_that_gives_them_meaning(cls, meaning):
    assert issubclass(cls, meaning)


@pytest.mark.parametrize(
    "cls",
    [
        tracker.SyncInProgress,
        tracker.SyncFailed,
        tracker.RecordingUnavailable,
        errors.PostHogAuthError,
        errors.PostHogUnavailable,
        reports.ReportNotSent,
        reports.WebhookNotSent,
    ],
)
def test_errors_that_mean_nothing_to_django_are_not_mistaken_for_something_it_handles(cls):
    # A Django type would change what an escaped error answers (403, 400, a security log);
    # OSError would make mail's `except MAIL_ERRORS` catch it.
    django_handled = (PermissionDenied, SuspiciousOperation, BadRequest, ObjectDoesNotExist, OSError)
    assert not issubclass(cls, django_handled)


def test_the_old_import_paths_still_work():
    from metrics.http.params import BadParameter
    from metrics.posthog import PostHogError
    from metrics.posthog.destination import WebhookError
    from metrics.reports import ReportError
    from metrics.reports.alert_webhook import WebhookNotSent
    from metrics.tracker import TrackerError

    assert BadParameter is errors.BadParameter
    assert PostHogError is errors.PostHogError
    assert WebhookError is errors.WebhookError
    assert ReportError is errors.ReportError
    assert WebhookNotSent is errors.WebhookNotSent
    assert TrackerError is errors.TrackerError


# Each error's HTTP answer as it was before the family had one root (MailNotConfigured is new).
# Classes that the table in metrics/presentation.py does not name are 500.
STATUSES = {
    errors.TrackerError: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.InvalidSyncRequest: HTTPStatus.BAD_REQUEST,
    errors.UnknownWeek: HTTPStatus.BAD_REQUEST,
    errors.NotConfigured: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.ConnectionTestFailed: HTTPStatus.BAD_GATEWAY,
    errors.InvalidPageview: HTTPStatus.BAD_REQUEST,
    errors.RecordingUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.SyncError: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.SyncInProgress: HTTPStatus.CONFLICT,
    errors.SyncFailed: HTTPStatus.BAD_GATEWAY,
    errors.SyncNotConfigured: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.DatabaseUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.WipeoutRefused: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.LockLost: HTTPStatus.CONFLICT,
    errors.PostHogError: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.PostHogNotConfigured: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.PostHogAuthError: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.PostHogNotFound: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.PostHogQueryRejected: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.PostHogRateLimited: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.PostHogUnavailable: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.PostHogQueryTooHeavy: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.PostHogBadResponse: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.PostHogAnswerTooLarge: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.WebhookError: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.WebhookNotConfigured: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.WebhookUnauthorized: HTTPStatus.UNAUTHORIZED,
    errors.WebhookTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    errors.WebhookLengthRequired: HTTPStatus.LENGTH_REQUIRED,
    errors.WebhookBadPayload: HTTPStatus.BAD_REQUEST,
    errors.ReportError: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.NoSuchWeek: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.ReportNotConfigured: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.MailNotConfigured: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.ReportNotSent: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.MailTooSlow: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.WebhookNotSent: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.BadParameter: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.UnreadableBody: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.ScheduleError: HTTPStatus.INTERNAL_SERVER_ERROR,
    errors.InvalidMetricDefinition: HTTPStatus.BAD_REQUEST,
    errors.VisitorsyncError: HTTPStatus.INTERNAL_SERVER_ERROR,
}


def test_the_status_table_covers_every_error():
    assert set(STATUSES) == set(EXCEPTION_CLASSES)


@pytest.mark.parametrize(("cls", "status"), STATUSES.items(), ids=[cls.__name__ for cls in STATUSES])
def test_each_error_keeps_its_http_status(cls, status):
    assert http_status_for(cls("message")) == status


def test_no_two_modules_under_metrics_share_a_name():
    app = Path(metrics.__file__).parent
    names = Counter(
        path.name
        for path in app.rglob("*.py")
        if path.name != "__init__.py" and "migrations" not in path.relative_to(app).parts
    )
    assert [name for name, count in names.items() if count > 1] == []


@pytest.mark.django_db
def test_alert_mail_without_email_url_is_a_family_error_that_the_alert_check_records(settings):
    settings.EMAIL_CONFIGURED = False
    settings.VISITORSYNC_ALERT_RECIPIENTS = ["ops@example.com"]
    settings.VISITORSYNC_ALERT_WEBHOOK_URL = ""
    with pytest.raises(reports.MailNotConfigured, match="EMAIL_URL is not set"):
        mail.send_alert_mail(subject="s", text="t")
    results = reports.send_test_alert()
    assert results == {"mail": f"mail: {reports.mail_problem()}"}
