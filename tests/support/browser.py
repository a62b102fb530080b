"""Debian's headless Chromium driven by Playwright: the `browser_page` fixture (registered by
conftest.py), the login step and the markers every browser test module carries."""

import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connections

CHROMIUM = os.environ.get("VISITORSYNC_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Only on request: a normal run must not touch docs/, so a developer's tree stays clean.
DOCS_SCREENSHOTS = os.environ.get("VISITORSYNC_DOCS_SCREENSHOTS") == "1"
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

browser_marks = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not shutil.which(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (scripts/test installs it)"
    ),
]


@pytest.fixture
def browser_page(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between browser steps are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            browser.close()
            # Inside Playwright's event loop the ORM uses a connection of its own (Django's
            # connections are per context); close it, or the test database stays busy.
            connections.close_all()


def log_in_as_superuser(page, url: str) -> None:
    """Open `url` as a new superuser would: the admin's login form first, then the page."""
    User.objects.create_superuser("boss", password="a-long-test-password")
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(url)
    page.fill("#id_username", "boss")
    page.fill("#id_password", "a-long-test-password")
    page.click("input[type=submit]")
