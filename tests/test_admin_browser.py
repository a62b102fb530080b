"""The admin in a real browser: Debian's headless Chromium driven by Playwright, against a
live server and the loopback PostHog stub. Screenshots go to test-artifacts/; with
VISITORSYNC_DOCS_SCREENSHOTS=1 the weekly list is also saved as the README's screenshot."""

import re

import pytest

from metrics import numbers
from metrics.core import weeks
from metrics.models import SyncRun, WeeklyMetric
from tests.support.browser import ARTIFACTS, DOCS_IMAGES, DOCS_SCREENSHOTS, browser_marks, log_in_as_superuser

pytestmark = browser_marks


@pytest.mark.django_db(transaction=True)
def test_start_a_sync_see_progress_then_result_and_the_new_numbers(
    live_server, posthog_stub, settings, browser_page, background_syncs
):
    from playwright.sync_api import expect

    # Several chunks with some latency each, so the page has progress to show.
    settings.VISITORSYNC_BACKFILL_WEEKS = 26
    settings.VISITORSYNC_CHUNK_WEEKS = 2
    posthog_stub.latency = 0.4
    page = browser_page
    log_in_as_superuser(page, f"{live_server.url}/admin/")
    expect(page.locator("#posthog-sync-module")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "admin-index.png")
    page.click("#posthog-sync-module a >> text=Sync with PostHog")
    expect(page).to_have_url(re.compile(r"/admin/metrics/weeklymetric/sync/$"))
    expect(page.locator("h1")).to_have_text("Sync with PostHog")
    expect(page.locator("#integration-status")).to_contain_text("Configured: project 12345")

    page.click("#start-sync")
    progress = page.locator("#sync-progress-text")
    # Seen while the sync runs: a phase and a count of weeks short of the total.
    expect(progress).to_have_text(re.compile(r"Asking PostHog — ([1-9]|1\d|2[0-5]) of 26 weeks"))
    expect(page.locator("#start-sync")).to_be_disabled()
    seen_while_running = progress.text_content()
    page.screenshot(path=ARTIFACTS / "admin-sync-progress.png", full_page=True)

    result = page.locator("#sync-result")
    expect(result).to_contain_text(re.compile(r"Sync #\d+ finished"), timeout=60_000)
    expect(result).to_contain_text("26 created, 0 updated, 0 unchanged")
    expect(result).to_contain_text("Largest changes")
    expect(page.locator("#sync-progress")).to_be_hidden()
    expect(page.locator("#start-sync")).to_be_enabled()
    expect(page.locator("#recent-syncs")).to_contain_text("Succeeded")
    expect(page.locator("#sync-status")).to_contain_text("1 succeeded, 0 failed")
    page.screenshot(path=ARTIFACTS / "admin-sync-page.png", full_page=True)
    assert "of 26 weeks" in seen_while_running

    page.click("#sync-result >> text=Details of sync")
    expect(page.locator("#content-main")).to_contain_text("Per-week changes")
    page.screenshot(path=ARTIFACTS / "admin-syncrun-detail.png", full_page=True)
    page.go_back()

    # The same weeks a year earlier, as an older sync would have stored them, so the list
    # compares with last year and the chart draws last year's line.
    WeeklyMetric.objects.bulk_create(
        WeeklyMetric(
            week_start=metric.week_start - numbers.YEAR_BEFORE,
            visitors=metric.visitors * 3 // 4,
            pageviews=metric.pageviews * 2 // 3,
            synced_at=metric.synced_at,
        )
        for metric in WeeklyMetric.objects.all()
    )
    page.click(".breadcrumbs >> text=Weekly metrics")
    current = WeeklyMetric.objects.get(week_start=weeks.current_week_start())
    expect(page.locator("h1")).to_have_text("Weekly metrics")
    expect(page.locator("#headline-figures")).to_contain_text("Visitors, last week")
    expect(page.locator("#headline-figures")).to_contain_text("Visitors, this week so far")
    expect(page.locator("#weekly-chart svg")).to_be_visible()
    expect(page.locator("#weekly-chart")).to_contain_text("this week, in progress")
    expect(page.locator("#last-year-line")).to_have_count(1)
    first_row = page.locator("#result_list tbody tr").first
    expect(first_row).to_contain_text(f"Week of {current.week_start:%Y-%m-%d}")
    expect(first_row.locator(".field-visitors_display")).to_have_text(f"{current.visitors:,}")
    expect(first_row.locator(".field-vs_last_year")).to_contain_text("so far")
    expect(page.locator("#result_list tbody tr")).to_have_count(52)
    page.screenshot(path=ARTIFACTS / "admin-weeklymetric-list.png", full_page=True)
    page.screenshot(path=ARTIFACTS / "admin-weeklymetric-list-top.png")
    page.evaluate("document.querySelector('#changelist').scrollIntoView()")
    page.screenshot(path=ARTIFACTS / "admin-weeklymetric-list-table.png")
    page.evaluate("window.scrollTo(0, 0)")
    # Every column is inside the 1280 px window, next to the filter and the navigation.
    last_header = page.locator("#result_list thead th").last.bounding_box()
    assert last_header["x"] + last_header["width"] <= 1280, last_header
    filter_box = page.locator("#changelist-filter").bounding_box()
    assert filter_box["y"] + filter_box["height"] <= last_header["y"] or (
        last_header["x"] + last_header["width"] <= filter_box["x"]
    ), (last_header, filter_box)
    if DOCS_SCREENSHOTS:
        # Without the navigation sidebar, so every column is in view: the page from its top
        # down to the sixth week, cut between two rows.
        page.click("#toggle-nav-sidebar")
        expect(page.locator("#nav-sidebar")).to_be_hidden()
        page.evaluate("window.scrollTo(0, 0)")
        sixth = page.locator("#result_list tbody tr").nth(5).bounding_box()
        DOCS_IMAGES.mkdir(exist_ok=True)
        page.screenshot(
            path=DOCS_IMAGES / "admin-weekly-list.png",
            full_page=True,
            clip={"x": 0, "y": 0, "width": 1280, "height": sixth["y"] + sixth["height"] + 1},
        )
    # The sync's thread closes its database connection after recording the result.
    background_syncs.wait_until_finished(SyncRun.objects.get().pk)


@pytest.mark.django_db(transaction=True)
def test_unconfigured_setup_is_explained_on_the_sync_page(live_server, settings, browser_page):
    from playwright.sync_api import expect

    settings.POSTHOG_API_KEY = ""
    settings.POSTHOG_PROJECT_ID = ""
    page = browser_page
    log_in_as_superuser(page, f"{live_server.url}/admin/sync/")
    status = page.locator("#integration-status")
    expect(status).to_contain_text("Not configured")
    expect(status).to_contain_text("POSTHOG_PROJECT_ID is not set")
    expect(status).to_contain_text("Personal API keys")
    expect(page.locator("#test-connection")).to_be_disabled()
    page.screenshot(path=ARTIFACTS / "admin-sync-unconfigured.png", full_page=True)
