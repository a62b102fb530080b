"""docs/openapi.json: served at /api/openapi.json, in step with the URL conf, and true of the
live app according to schemathesis (no 5xx, no answer the document does not allow)."""

import json
import re
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import pytest
from django.urls import URLPattern

from metrics import urls
from tests.support.stats_api import seed_weeks

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "openapi.json"
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "trace"}
UNSERVED_METHOD = "BREW"  # a method no endpoint serves, so each answers 405 with its Allow header


def documented() -> dict[str, set[str]]:
    paths = json.loads(DOCUMENT.read_text())["paths"]
    return {path: {m.upper() for m in item if m in HTTP_METHODS} for path, item in paths.items()}


def routed(client) -> dict[str, set[str]]:
    """Each route of metrics.urls (regex routes without their anchors and optional slash) and
    the methods its view serves, as the `Allow` header of its 405 to a method nobody serves says."""
    result = {}
    for pattern in urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        route = "/" + re.sub(r"^\^|/\?\$$|\$$", "", str(pattern.pattern))
        assert "<" not in route and "(" not in route, f"{route}: give the test a path to request"
        refused = client.generic(UNSERVED_METHOD, route)
        assert refused.status_code == HTTPStatus.METHOD_NOT_ALLOWED, (route, refused.status_code)
        result[route] = {method.strip() for method in refused["Allow"].split(",")}
    return result


def test_document_is_openapi_3_1_with_the_error_shape():
    document = json.loads(DOCUMENT.read_text())
    assert document["openapi"].startswith("3.1.")
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["ok", "error"] and error["properties"]["ok"] == {"const": False}


def test_document_paths_and_methods_are_the_url_confs(client):
    assert documented() == routed(client)


def test_every_documented_error_status_uses_the_error_shape():
    for path, item in json.loads(DOCUMENT.read_text())["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            for status, response in operation["responses"].items():
                # The webhook's health document is its own answer, also when it is a 503.
                if int(status) >= 400 and (path, method) != ("/api/webhooks/posthog", "get"):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, status)


def test_document_is_served_from_docs(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/json"
    assert response.content == DOCUMENT.read_bytes()
    refused = client.post("/api/openapi.json")
    assert refused.status_code == HTTPStatus.METHOD_NOT_ALLOWED and refused.json()["ok"] is False


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_no_server_error_and_no_answer_the_document_forbids(
    live_server, settings, tmp_path
):
    token, webhook_secret = "schemathesis-token-0123456789abcdef", "schemathesis-webhook-0123456789abc"
    settings.VISITORSYNC_API_TOKENS = token
    settings.POSTHOG_WEBHOOK_SECRET = webhook_secret
    settings.CRON_SECRET = "cron-secret-not-given-to-schemathesis-0123"
    settings.POSTHOG_HOST = "http://127.0.0.1:9"  # never reached: the cron endpoint refuses first
    settings.DEBUG = False
    seed_weeks(60)
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{live_server.url}/api/openapi.json",
        # The stats token, and the webhook's secret in its own header; the cron endpoint
        # gets no cron secret, so it must answer 401 (as documented) to everything.
        "--header",
        f"Authorization: Bearer {token}",
        "--header",
        f"X-Webhook-Secret: {webhook_secret}",
        "--max-examples",
        "20",
        "--seed",
        "1",
        "--workers",
        "1",
        "--request-timeout",
        "10",
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    figures = re.search(r"(\d+) generated, (.*)", output)
    print(f"schemathesis: {figures.group(0) if figures else 'no summary'}")
    assert result.returncode == 0, output[-6000:]
    assert figures and "failures" not in figures.group(0), output[-6000:]
    assert int(figures.group(1)) > 100, output[-3000:]  # it did test something
