"""What a person meets outside the numbers: `/`, the favicon, the admin's name and navigation."""

import pytest
from django.urls import reverse


def test_front_page_says_what_this_server_is_without_touching_the_database(client):
    # No django_db mark: any database access here would raise.
    response = client.get("/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "keeps a site's weekly metrics in step with PostHog" in page
    assert f'href="{reverse("admin:index")}"' in page and "/api/openapi.json" in page
    assert client.post("/").status_code == 405


def test_favicon_is_served_at_the_root(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file


@pytest.mark.django_db
def test_admin_is_branded_and_view_site_leads_to_the_front_page(client):
    login = client.get(reverse("admin:login")).content.decode()
    assert "Django administration" not in login and ">visitorsync</a>" in login


@pytest.mark.django_db
def test_sidebar_lists_the_sync_page(admin_client):
    page = admin_client.get(reverse("admin:metrics_syncrun_changelist")).content.decode()
    sidebar = page.split('id="nav-sidebar"', 1)[1].split("</nav>", 1)[0]
    assert reverse("admin:metrics_weeklymetric_sync") in sidebar and "Sync with PostHog" in sidebar
    assert 'href="/">View site</a>' in page
    sync = admin_client.get(reverse("admin:metrics_weeklymetric_sync")).content.decode()
    current = sync.split('id="nav-sidebar"', 1)[1].split("</nav>", 1)[0]
    assert 'aria-current="page">Sync with PostHog' in current
