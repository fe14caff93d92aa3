"""Every error is JSON with a sentence and a stable code; never an HTML page."""

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

# What a browser asks for: Django's debug page answers it with HTML.
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def assert_json_error(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str)
    assert body["detail"]


def test_malformed_json_is_400(client, event_factory):
    event = event_factory()
    response = client.post(
        f"/api/events/{event.pk}/register/", '{"name": "Ada", ', content_type="application/json"
    )
    assert_json_error(response, 400, "parse_error")


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "42", "null"])
def test_json_that_is_not_an_object_is_400(client, body):
    response = client.post("/api/events/", body, content_type="application/json")
    assert_json_error(response, 400, "invalid")


def test_wrong_method_is_405(client, event_factory):
    event = event_factory()
    assert_json_error(client.delete(f"/api/events/{event.pk}/"), 405, "method_not_allowed")
    assert_json_error(client.get(f"/api/events/{event.pk}/register/"), 405, "method_not_allowed")


def test_form_encoded_body_is_415(client):
    response = client.post("/api/events/", {"name": "x"})
    assert_json_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("path", ["/api/nothing/", "/api/events/abc/", "/api/events/1/unknown/"])
@pytest.mark.parametrize("debug", [True, False])
def test_unknown_api_path_is_a_json_404(client, path, debug):
    with override_settings(DEBUG=debug):
        assert_json_error(client.get(path), 404, "not_found")


@pytest.mark.parametrize("path", ["/api/nothing/", "/api/events/abc/register/"])
def test_write_to_an_unknown_api_path_is_a_json_404(path):
    client = Client(enforce_csrf_checks=True)  # as a real client is treated
    response = client.post(path, "{}", content_type="application/json")
    assert_json_error(response, 404, "not_found")


TOO_MANY_PARAMETERS = "&".join(f"p{i}=1" for i in range(1001))
TOO_BIG = '{"name": "' + "a" * 2_700_000 + '", "email": "a@example.com"}'


@pytest.mark.parametrize(
    "malformed",
    [
        pytest.param({"path": "/api/events/", "HTTP_HOST": "evil.example"}, id="unknown-host"),
        pytest.param({"path": f"/api/events/?{TOO_MANY_PARAMETERS}"}, id="1001-parameters"),
        pytest.param(
            {"path": f"/api/nothing/?{TOO_MANY_PARAMETERS}"}, id="1001-parameters-unknown-path"
        ),
    ],
)
@pytest.mark.parametrize("debug", [False, True])
def test_malformed_requests_are_a_json_400_bad_request(client, settings, malformed, debug):
    settings.DEBUG = debug  # as under `make run`
    response = client.get(**malformed, HTTP_ACCEPT=BROWSER_ACCEPT)
    assert_json_error(response, 400, "bad_request")


@pytest.mark.parametrize("debug", [False, True])
def test_body_over_the_limit_is_a_json_400_bad_request(client, settings, event_factory, debug):
    settings.DEBUG = debug
    event = event_factory()
    response = client.post(
        f"/api/events/{event.pk}/register/",
        TOO_BIG,
        content_type="application/json",
        HTTP_ACCEPT=BROWSER_ACCEPT,
    )
    assert_json_error(response, 400, "bad_request")
    assert not event.attendees.exists()


@pytest.mark.parametrize("debug", [False, True])
def test_unexpected_failure_is_a_json_500_without_traceback(
    client, settings, monkeypatch, caplog, debug
):
    settings.DEBUG = debug

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("api.events.views.upcoming_events", explode)
    client.raise_request_exception = False
    response = client.get("/api/events/", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert_json_error(response, 500, "server_error")
    assert "boom" not in response.content.decode()
    [logged] = [record for record in caplog.records if record.levelname == "ERROR"]
    assert logged.getMessage() == "Internal Server Error: /api/events/"
    assert logged.exc_info[1].args == ("boom",)
