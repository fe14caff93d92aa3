"""People in a browser: DRF's browsable API while developing, the docs at `/`; JSON clients see
no difference, and production answers JSON only unless told otherwise."""

import urllib.error
import urllib.request

import pytest
from django.db import connection

from testing.servers import NoRedirect, gunicorn

# The suite runs with the development defaults (DJANGO_DEBUG unset), so the browsable API is on.
pytestmark = pytest.mark.django_db

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_a_browser_gets_the_browsable_api(client, event_factory):
    event_factory(name="Launch Party")

    response = client.get("/api/events/", HTTP_ACCEPT=BROWSER)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    page = response.content.decode()
    assert "Django REST framework" in page
    assert "Launch Party" in page


@pytest.mark.parametrize(
    "path", ["/api/events/{id}/", "/api/events/{id}/attendees/", "/api/events/{id}/register/"]
)
def test_every_event_page_renders_for_a_browser(client, event_factory, attendee_factory, path):
    event = event_factory()
    attendee_factory(event=event)

    response = client.get(path.format(id=event.pk), HTTP_ACCEPT=BROWSER)

    # register takes POST only: its page says so, with the form to send one.
    assert response.status_code == (405 if path.endswith("register/") else 200)
    assert response["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_json_clients_see_no_difference(client, event_factory, accept):
    event = event_factory()
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}

    for path in ("/api/events/", f"/api/events/{event.pk}/", f"/api/events/{event.pk}/attendees/"):
        response = client.get(path, **headers)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert response.json()
        assert b"\n" not in response.content  # compact, not indented for a person


def test_answers_say_they_vary_with_accept(client, event_factory):
    event = event_factory()

    response = client.get(f"/api/events/{event.pk}/")

    assert "Accept" in response["Vary"]


def test_staff_signed_in_to_the_admin_are_signed_in_here(admin_client, admin_user):
    page = admin_client.get("/api/events/", HTTP_ACCEPT=BROWSER).content.decode()

    assert admin_user.username in page
    assert "Log out" in page


def test_the_log_in_link_leads_to_the_admin_and_back(client):
    page = client.get("/api/events/", HTTP_ACCEPT=BROWSER).content.decode()
    assert "href='/api-auth/login/?next=/api/events/'" in page

    response = client.get("/api-auth/login/?next=/api/events/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/api/events/"


def test_the_site_root_leads_to_the_docs(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/api/docs/"


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the response cache works on PostgreSQL only"
)
def test_a_browser_and_a_json_client_never_get_each_others_answer(client, event_factory):
    event = event_factory()
    for path in ("/api/events/", f"/api/events/{event.pk}/", f"/api/events/{event.pk}/attendees/"):
        assert client.get(path, HTTP_ACCEPT=BROWSER)["Content-Type"].startswith("text/html")

        response = client.get(path, HTTP_ACCEPT="application/json")

        assert response["Content-Type"] == "application/json"
        assert response.json()
        # ...nor a JSON answer, kept for JSON clients, to a browser.
        assert client.get(path, HTTP_ACCEPT=BROWSER)["Content-Type"].startswith("text/html")


def fetch(url: str, accept: str) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.mark.django_db(transaction=True)
def test_production_answers_a_browser_with_json(event_factory):
    event_factory()
    with gunicorn(workers=1) as url:
        status, headers, body = fetch(f"{url}/api/events/", BROWSER)
        root_status, root_headers, _ = fetch(f"{url}/", BROWSER)

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert body.startswith(b'{"count":1,')
    assert "Vary" not in headers or "Accept" not in headers["Vary"]
    assert (root_status, root_headers["Location"]) == (302, "/api/docs/")


@pytest.mark.django_db(transaction=True)
def test_production_may_turn_the_browsable_api_on(event_factory):
    event_factory(name="Launch Party")
    with gunicorn(workers=1, env={"DJANGO_API_BROWSABLE": "true"}) as url:
        status, headers, body = fetch(f"{url}/api/events/", BROWSER)
        json_status, json_headers, _ = fetch(f"{url}/api/events/", "application/json")

    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"Launch Party" in body
    assert (json_status, json_headers["Content-Type"]) == (200, "application/json")


def test_the_browsable_api_shows_the_json_indented(client, event_factory):
    event_factory(name="Launch Party")

    page = client.get("/api/events/", HTTP_ACCEPT=BROWSER).content.decode()

    assert "{\n  &quot;count&quot;: 1,\n  &quot;next&quot;: null," in page
