"""One definition of "this secret is configured and usable" (metrics.core.secrets), everywhere it is shown.

/api/sync, the admin's integration panel, the webhook's health document and the system
checks must give the same answer for the same settings.
"""

from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

pytestmark = pytest.mark.django_db

SYNC_URL = "/admin/metrics/weeklymetric/sync/"
GOOD_SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def views(client, admin_client) -> dict:
    status = client.get("/api/sync").json()
    health = client.get("/api/webhooks/posthog")
    page = admin_client.get(SYNC_URL).content.decode()
    return {"status": status, "health": health, "page": page}


def test_a_cron_secret_of_only_commas_and_blanks_is_not_configured_anywhere(
    client, admin_client, settings, capsys
):
    settings.CRON_SECRET = " , ,"
    seen = views(client, admin_client)
    assert seen["status"]["cron_secret_configured"] is False
    assert "<code>CRON_SECRET</code> not set" in seen["page"]
    call_command("check", "--deploy")
    assert "metrics.W002" in capsys.readouterr().err


def test_a_usable_cron_secret_is_configured_everywhere(client, admin_client, settings, capsys):
    settings.CRON_SECRET = "a-real-cron-secret-0123456789"
    seen = views(client, admin_client)
    assert seen["status"]["cron_secret_configured"] is True
    assert "<code>CRON_SECRET</code> set" in seen["page"]
    call_command("check", "--deploy")
    assert "metrics.W002" not in capsys.readouterr().err


def test_a_malformed_signing_secret_is_unusable_everywhere_and_unhealthy(
    client, admin_client, settings, capsys
):
    settings.POSTHOG_WEBHOOK_SECRET = ""
    settings.POSTHOG_WEBHOOK_SIGNING_SECRET = "whsec_not*base64"
    seen = views(client, admin_client)
    # The webhook refuses every delivery, so monitoring must not call the integration healthy.
    assert seen["health"].status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert seen["health"].json()["accepting"] is False
    assert seen["status"]["webhook_secret_configured"] is False
    assert seen["status"]["healthy"] is False
    assert "<code>POSTHOG_WEBHOOK_SIGNING_SECRET</code> set but unusable" in seen["page"]
    assert "is not a Standard Webhooks secret" in seen["page"]
    with pytest.raises(SystemCheckError, match=r"metrics\.E003"):
        call_command("check")


def test_a_good_signing_secret_is_usable_everywhere(client, admin_client, settings, capsys):
    settings.POSTHOG_WEBHOOK_SECRET = ""
    settings.POSTHOG_WEBHOOK_SIGNING_SECRET = GOOD_SIGNING_SECRET
    seen = views(client, admin_client)
    assert seen["health"].status_code == HTTPStatus.OK
    assert seen["health"].json()["auth"] == "signature"
    assert seen["status"]["webhook_secret_configured"] is True
    assert "<code>POSTHOG_WEBHOOK_SIGNING_SECRET</code> set" in seen["page"]
    assert "set but unusable" not in seen["page"]
    assert GOOD_SIGNING_SECRET not in seen["page"]
    call_command("check", "--deploy")
    err = capsys.readouterr().err
    assert "metrics.E003" not in err and "metrics.W003" not in err
