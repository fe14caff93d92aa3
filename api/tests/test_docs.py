"""The API explains itself: an OpenAPI schema at /api/schema/ and Swagger UI at /api/docs/."""

import os
import re
import subprocess
import sys

import pytest
import yaml
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import override_settings

pytestmark = pytest.mark.django_db

# Read and cancelled with the token in their path, the only credential they read.
TOKEN_IN_PATH = {
    ("/api/registrations/{token}/", "get"),
    ("/api/registrations/{token}/", "delete"),
    ("/api/registrations/{token}/data/", "get"),
    ("/api/registrations/{token}/ticket.svg/", "get"),
    ("/api/registrations/{token}/ticket.png/", "get"),
}
# Posts that read no body: the path says it all.
BODILESS = {
    ("/api/events/{id}/cancel/", "post"),
    ("/api/events/{id}/pending/{attendee_id}/approve/", "post"),
    ("/api/webhooks/{id}/rotate-secret/", "post"),
    ("/api/webhooks/{id}/ping/", "post"),
    ("/api/webhooks/{id}/deliveries/{delivery_id}/redeliver/", "post"),
}
# Answered in iCalendar, not JSON.
CALENDARS = {("/api/events.ics", "get"), ("/api/events/{id}/event.ics", "get")}
# Answered as an image: a ticket's QR code.
IMAGES = {
    ("/api/registrations/{token}/ticket.svg/", "get"): "image/svg+xml",
    ("/api/registrations/{token}/ticket.png/", "get"): "image/png",
}
# The event's door (api/checkins/): for its owner, staff and its own devices.
DOOR = {
    ("/api/events/{id}/checkin/key/", "get"),
    ("/api/events/{id}/checkin/revoked/", "get"),
    ("/api/events/{id}/checkins/", "post"),
    ("/api/events/{id}/checkins/batch/", "post"),
    ("/api/events/{id}/checkins/{checkin_id}/", "delete"),
    ("/api/events/{id}/checkins/conflicts/", "get"),
    ("/api/events/{id}/checkins/stats/", "get"),
}
DEVICES = {
    ("/api/events/{id}/devices/", "get"),
    ("/api/events/{id}/devices/", "post"),
    ("/api/events/{id}/devices/{device_id}/", "delete"),
}
OPERATIONS = {
    ("/api/events/", "get"),
    ("/api/events/", "post"),
    ("/api/events/{id}/", "get"),
    ("/api/events/{id}/", "patch"),
    ("/api/events/{id}/register/", "post"),
    ("/api/events/{id}/attendees/", "get"),
    ("/api/events/{id}/attendees/{attendee_id}/", "delete"),
    ("/api/events/{id}/waitlist/", "get"),
    ("/api/events/{id}/cancel/", "post"),
    ("/api/events.ics", "get"),
    ("/api/events/{id}/event.ics", "get"),
    ("/api/registrations/{token}/", "get"),
    ("/api/registrations/{token}/", "delete"),
    ("/api/me/events/", "get"),
    ("/api/auth/token/", "post"),
    ("/api/auth/token/", "delete"),
    ("/api/events/{event_id}/questions/", "get"),
    ("/api/events/{event_id}/questions/", "post"),
    ("/api/events/{event_id}/questions/{id}/", "patch"),
    ("/api/events/{event_id}/questions/{id}/", "delete"),
    ("/api/events/{id}/pending/", "get"),
    ("/api/events/{id}/pending/{attendee_id}/approve/", "post"),
    ("/api/events/{id}/pending/{attendee_id}/decline/", "post"),
    *TOKEN_IN_PATH,
    *DOOR,
    *DEVICES,
    ("/api/webhooks/", "get"),
    ("/api/webhooks/", "post"),
    ("/api/webhooks/{id}/", "get"),
    ("/api/webhooks/{id}/", "patch"),
    ("/api/webhooks/{id}/", "delete"),
    ("/api/webhooks/{id}/rotate-secret/", "post"),
    ("/api/webhooks/{id}/ping/", "post"),
    ("/api/webhooks/{id}/deliveries/", "get"),
    ("/api/webhooks/{id}/deliveries/{delivery_id}/redeliver/", "post"),
}
# Webhook endpoints: an organiser's own, with a token.
WEBHOOK_OPERATIONS = {operation for operation in OPERATIONS if "/webhooks/" in operation[0]}


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def error_codes(response: dict) -> set[str]:
    examples = response["content"]["application/json"]["examples"].values()
    return {example["value"]["code"] for example in examples}


def test_schema_passes_validation_without_warnings(tmp_path):
    output = tmp_path / "schema.yaml"
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn",
         "--file", str(output)],
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(output.read_text())["openapi"] == "3.0.3"


def test_schema_is_yaml_by_default(client):
    response = client.get("/api/schema")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert set(yaml.safe_load(response.content)["paths"]) == {path for path, _ in OPERATIONS}


def test_schema_lists_every_operation(schema):
    assert {(path, method) for path, method, _ in operations(schema)} == OPERATIONS


def test_every_operation_documents_tz_and_the_errors_any_request_can_meet(schema):
    for path, method, operation in operations(schema):
        label = f"{method.upper()} {path}"
        assert operation["summary"], label
        parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
        assert "IANA" in parameters["tz"]["description"], label
        responses = operation["responses"]
        assert {"invalid_timezone", "bad_request"} <= error_codes(responses["400"]), label
        assert error_codes(responses["500"]) == {"server_error"}, label
        assert error_codes(responses["503"]) == {"service_unavailable"}, label
        assert "Retry-After" in responses["503"]["headers"], label
        if (path, method) in TOKEN_IN_PATH:
            assert "401" not in responses, label
        else:
            assert "WWW-Authenticate" in responses["401"]["headers"], label
        for success in (code for code in responses if code.startswith("2")):
            if success == "204":
                continue
            if (path, method) in IMAGES:
                assert set(responses[success]["content"]) == {IMAGES[path, method]}, label
                continue
            media_type = "text/calendar" if (path, method) in CALENDARS else "application/json"
            assert responses[success]["content"][media_type]["examples"], label


def test_operations_with_a_body_document_it_and_its_errors(schema):
    for path, method, operation in operations(schema):
        if method not in ("post", "patch") or (path, method) in BODILESS:
            continue
        body = operation["requestBody"]["content"]["application/json"]
        assert body["examples"], path
        assert {"invalid", "parse_error"} <= error_codes(operation["responses"]["400"]), path
        assert error_codes(operation["responses"]["415"]) == {"unsupported_media_type"}, path


def test_each_operation_documents_its_own_errors(schema):
    paths = schema["paths"]
    register = paths["/api/events/{id}/register/"]["post"]["responses"]
    conflicts = {
        "event_full",
        "already_registered",
        "registration_closed",
        "event_cancelled",
        "answers_required",
        "idempotency_in_progress",
    }
    assert error_codes(register["409"]) == conflicts
    assert "answers" in str(register["400"]["content"]["application/json"]["examples"])
    assert {"201", "202"} <= set(register)
    assert error_codes(register["404"]) == {"not_found"}
    assert "No event has this id" in register["404"]["description"]
    assert "404" in paths["/api/events/{id}/"]["get"]["responses"]
    attendees_404 = paths["/api/events/{id}/attendees/"]["get"]["responses"]["404"]
    assert "No event" in attendees_404["description"]
    assert "page" in attendees_404["description"]
    listing = paths["/api/events/"]["get"]["responses"]
    assert "invalid" in error_codes(listing["400"])
    assert "404" in listing
    assert "404" not in paths["/api/events/"]["post"]["responses"]


@pytest.mark.parametrize("path", ["/api/events/", "/api/events/{id}/register/"])
def test_creating_posts_document_idempotency_keys_and_their_answers(schema, path):
    operation = schema["paths"][path]["post"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    key = parameters["Idempotency-Key"]
    assert (key["in"], key.get("required", False)) == ("header", False)
    assert (key["schema"]["minLength"], key["schema"]["maxLength"]) == (1, 255)
    responses = operation["responses"]
    assert error_codes(responses["422"]) == {"idempotency_key_reused"}
    assert "idempotency_in_progress" in error_codes(responses["409"])
    assert "Retry-After" in responses["409"]["headers"]
    assert "Idempotency-Key" in str(responses["400"]["content"]["application/json"]["examples"])
    assert "Idempotent-Replayed" in responses["201"]["headers"]
    assert "Idempotent-Replayed" in responses["400"]["headers"]
    assert "Idempotent-Replayed" not in responses["422"].get("headers", {})
    assert "Idempotent-Replayed" not in responses["429"].get("headers", {})


def test_other_operations_take_no_idempotency_key(schema):
    for path, method, operation in operations(schema):
        if (path, method) in {("/api/events/", "post"), ("/api/events/{id}/register/", "post")}:
            continue
        names = {parameter["name"] for parameter in operation["parameters"]}
        assert "Idempotency-Key" not in names, (path, method)
        assert "422" not in operation["responses"], (path, method)


def test_the_bearer_scheme_is_documented_so_swagger_ui_can_send_a_token(schema):
    scheme = schema["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    bearer, anyone = {"bearerAuth": []}, {}
    expected = {
        ("/api/events/", "get"): [bearer, anyone],
        ("/api/events/{id}/", "get"): [bearer, anyone],
        ("/api/events.ics", "get"): [bearer, anyone],
        ("/api/events/{id}/event.ics", "get"): [bearer, anyone],
        ("/api/events/{id}/register/", "post"): [bearer, anyone],
        ("/api/events/", "post"): [bearer],
        ("/api/events/{id}/", "patch"): [bearer],
        ("/api/events/{id}/attendees/", "get"): [bearer],
        ("/api/events/{id}/waitlist/", "get"): [bearer],
        ("/api/events/{id}/attendees/{attendee_id}/", "delete"): [bearer],
        ("/api/events/{id}/cancel/", "post"): [bearer],
        **{operation: [anyone] for operation in TOKEN_IN_PATH},
        **{operation: [bearer] for operation in DOOR | DEVICES},
        ("/api/me/events/", "get"): [bearer],
        ("/api/auth/token/", "delete"): [bearer],
        ("/api/auth/token/", "post"): [anyone],
        ("/api/events/{event_id}/questions/", "get"): [bearer, anyone],
        ("/api/events/{event_id}/questions/", "post"): [bearer],
        ("/api/events/{event_id}/questions/{id}/", "patch"): [bearer],
        ("/api/events/{event_id}/questions/{id}/", "delete"): [bearer],
        ("/api/events/{id}/pending/", "get"): [bearer],
        ("/api/events/{id}/pending/{attendee_id}/approve/", "post"): [bearer],
        ("/api/events/{id}/pending/{attendee_id}/decline/", "post"): [bearer],
        ("/api/registrations/{token}/data/", "get"): [anyone],
        **{operation: [bearer] for operation in WEBHOOK_OPERATIONS},
    }
    assert {(path, method): op["security"] for path, method, op in operations(schema)} == expected


def test_every_refusal_of_a_caller_is_documented(schema):
    paths = schema["paths"]
    for path, method, operation in operations(schema):
        label = f"{method.upper()} {path}"
        if (path, method) != ("/api/auth/token/", "post") and (path, method) not in TOKEN_IN_PATH:
            assert "authentication_failed" in error_codes(operation["responses"]["401"]), label
    organisers_only = [
        paths["/api/events/"]["post"],
        paths["/api/events/{id}/"]["patch"],
        paths["/api/events/{id}/attendees/"]["get"],
        paths["/api/events/{id}/waitlist/"]["get"],
        paths["/api/events/{id}/attendees/{attendee_id}/"]["delete"],
        paths["/api/events/{id}/cancel/"]["post"],
        paths["/api/me/events/"]["get"],
        paths["/api/events/{event_id}/questions/"]["post"],
        paths["/api/events/{event_id}/questions/{id}/"]["patch"],
        paths["/api/events/{event_id}/questions/{id}/"]["delete"],
        paths["/api/events/{id}/pending/"]["get"],
        paths["/api/events/{id}/pending/{attendee_id}/approve/"]["post"],
        paths["/api/events/{id}/pending/{attendee_id}/decline/"]["post"],
        *(paths[path][method] for path, method in WEBHOOK_OPERATIONS),
    ]
    for operation in organisers_only:
        responses = operation["responses"]
        assert "not_authenticated" in error_codes(responses["401"]), operation["operationId"]
        assert error_codes(responses["403"]) == {"permission_denied"}, operation["operationId"]
    patch = paths["/api/events/{id}/"]["patch"]["responses"]
    assert error_codes(patch["409"]) == {
        "event_started",
        "capacity_below_attendance",
        "event_cancelled",
    }
    assert error_codes(patch["404"]) == {"not_found"}
    assert "409" in patch["409"]["description"]
    sign_in = paths["/api/auth/token/"]["post"]["responses"]
    assert error_codes(sign_in["401"]) == {"invalid_credentials"}
    assert set(schema["components"]["schemas"]["Token"]["properties"]) == {"token", "expires_at"}
    revoke = paths["/api/auth/token/"]["delete"]["responses"]
    assert error_codes(revoke["401"]) == {"not_authenticated", "authentication_failed"}


def test_unknown_event_is_documented_as_it_is_answered(schema):
    paths = schema["paths"]
    operations = [
        paths["/api/events/{id}/"]["get"],
        paths["/api/events/{id}/"]["patch"],
        paths["/api/events/{id}/register/"]["post"],
        paths["/api/events/{id}/attendees/"]["get"],
        paths["/api/events/{id}/waitlist/"]["get"],
        paths["/api/events/{id}/attendees/{attendee_id}/"]["delete"],
        paths["/api/events/{id}/cancel/"]["post"],
    ]

    for operation in operations:
        examples = operation["responses"]["404"]["content"]["application/json"]["examples"]
        assert examples["NoSuchEvent"]["value"] == {
            "detail": "No event exists with this id.",
            "code": "not_found",
        }, operation["operationId"]


def test_error_shape_is_described(schema):
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"detail", "code", "errors"}
    assert set(error["required"]) == {"detail", "code"}


def test_lists_document_pagination_and_the_event_list_its_filters(schema):
    listing = schema["paths"]["/api/events/"]["get"]
    names = {parameter["name"] for parameter in listing["parameters"]}
    assert names == {
        "page", "page_size", "search", "location", "starts_after", "starts_before", "ordering",
        "tz",
    }  # fmt: skip
    ordering = next(p for p in listing["parameters"] if p["name"] == "ordering")
    assert set(ordering["schema"]["enum"]) == {"start_time", "-start_time", "name", "-name"}
    page = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert page == "#/components/schemas/PaginatedEventList"
    assert set(schema["components"]["schemas"]["PaginatedEventList"]["properties"]) == {
        "count", "next", "previous", "results",
    }  # fmt: skip
    attendees = schema["paths"]["/api/events/{id}/attendees/"]["get"]
    assert {"page", "page_size"} <= {parameter["name"] for parameter in attendees["parameters"]}


def test_page_size_is_documented_as_a_whole_number_from_1_or_400(schema):
    for path in ("/api/events/", "/api/events/{id}/attendees/"):
        operation = schema["paths"][path]["get"]
        parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
        assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1}, path
        assert "invalid" in error_codes(operation["responses"]["400"]), path


@override_settings(DEBUG=False)
def test_docs_page_loads_swagger_ui_from_this_app_only(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(assets) >= 3
    assert all(asset.startswith("/static/drf_spectacular_sidecar/") for asset in assets), assets
    assert not re.search(r"https?://|//cdn", page)
    assert 'url: "/api/schema"' in page
    assert '"validatorUrl": null' in page
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert b"".join(served.streaming_content), asset


def test_staticfiles_finds_swagger_ui_for_runserver_and_collectstatic():
    for name in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        assert finders.find(f"drf_spectacular_sidecar/swagger-ui-dist/{name}"), name


def test_the_numbers_the_docs_quote_are_the_settings(tmp_path):
    """Limits and defaults in the descriptions are read from the settings, not written as prose:
    a server configured otherwise documents its own."""
    output = tmp_path / "schema.yaml"
    environment = {
        **os.environ,
        "DJANGO_THROTTLE_REGISTER": "5/s",
        "DJANGO_THROTTLE_CREATE": "7/day",
        "DJANGO_THROTTLE_TOKEN": "3/hour",
        "DJANGO_CALENDAR_FEED_MAX_EVENTS": "12000",
        "DJANGO_TOKEN_TTL_DAYS": "9",
        "DJANGO_IDEMPOTENCY_TTL_HOURS": "2",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--file", str(output)],
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120, env=environment,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    paths = yaml.safe_load(output.read_text())["paths"]

    def text(path: str, method: str) -> str:
        return " ".join(yaml.safe_dump(paths[path][method], width=10**6).split())

    register = text("/api/events/{id}/register/", "post")
    assert "registrations per client address (5 a second" in register
    assert "expire after 2 hours" in register
    assert "event creations per user (7 a day" in text("/api/events/", "post")
    sign_in = text("/api/auth/token/", "post")
    assert "token requests per client address (3 an hour" in sign_in
    assert "9 days" in sign_in
    assert "the soonest 12,000 events" in text("/api/events.ics", "get")
    assert "60 a minute" not in register
