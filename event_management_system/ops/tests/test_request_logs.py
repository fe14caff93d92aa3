"""X-Request-ID on every answer, and the log lines of a request: one per request, each carrying
the request's id, and none naming an email, a token or a password."""

import io
import json
import logging
import re

import pytest
import structlog
from django.urls import get_resolver

from event_management_system.ops.logs import REQUEST_FIELDS, formatter
from event_management_system.ops.requests import readable_route

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_log():
    """`json_log()`: the lines logged since the test started, as production writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(format="json"))
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/events/", 200),
        ("/api/events/999999/", 404),
        ("/api/nothing/", 404),
        ("/healthz", 200),
        ("/metrics", 200),
        ("/no/such/page/", 404),
    ],
)
def test_a_sane_request_id_is_returned_as_given(client, path, status):
    response = client.get(path, HTTP_X_REQUEST_ID="lb-7f3a.9_Z-1")

    assert response.status_code == status
    assert response["X-Request-ID"] == "lb-7f3a.9_Z-1"


@pytest.mark.parametrize(
    "given",
    [None, "", "has space", "semi;colon", "é", "a" * 129, "../../etc/passwd?x=1"],
)
def test_a_missing_or_insane_request_id_is_replaced_by_a_fresh_one(client, given):
    headers = {} if given is None else {"HTTP_X_REQUEST_ID": given}

    first = client.get("/api/events/", **headers)["X-Request-ID"]
    second = client.get("/api/events/", **headers)["X-Request-ID"]

    assert GENERATED_ID.fullmatch(first)
    assert GENERATED_ID.fullmatch(second)
    assert first != second


def test_an_early_refusal_carries_the_request_id(client):
    # Refused by the middleware that checks the host, before any view runs.
    response = client.get("/api/events/", HTTP_HOST="evil.example", HTTP_X_REQUEST_ID="early-1")

    assert response.status_code == 400
    assert response["X-Request-ID"] == "early-1"


def test_each_request_is_one_line_with_its_fields(client, json_log, event_factory):
    event = event_factory()

    client.get(f"/api/events/{event.pk}/?x=secret-query", HTTP_X_REQUEST_ID="read-1")

    [line] = [
        line for line in json_log() if line["logger"] == "event_management_system.ops.requests"
    ]
    assert set(line) == {
        "time", "level", "logger", "event", "request_id", "method", "route", "view", "status",
        "duration_ms", "client",
    }  # fmt: skip
    assert line["event"] == "request"
    assert line["level"] == "info"
    assert line["request_id"] == "read-1"
    assert line["method"] == "GET"
    assert line["view"] == "event-detail"
    assert line["route"] == "/api/events/{id}/"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["client"] == "127.0.0.1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", line["time"])
    assert "secret-query" not in json.dumps(line)


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("POST", "/api/events/{id}/register", "/api/events/{id}/register/"),
        ("DELETE", "/api/events/{id}/attendees/123/", "/api/events/{id}/attendees/{attendee_id}/"),
        ("GET", "/api/events/{id}/event.ics", "/api/events/{id}/event.ics"),
        ("GET", "/api/events.ics", "/api/events.ics"),
        ("GET", "/api/registrations/some-token/", "/api/registrations/{token}/"),
        ("GET", "/api/me/events", "/api/me/events/"),
    ],
)
def test_the_route_is_the_path_template_the_openapi_schema_names(
    api_client, event_factory, json_log, method, path, route
):
    event = event_factory()

    api_client.generic(method, path.format(id=event.pk))

    [line] = [
        line for line in json_log() if line["logger"] == "event_management_system.ops.requests"
    ]
    assert line["route"] == route
    assert str(event.pk) not in line["route"]


def test_every_logged_route_is_a_path_of_the_openapi_schema(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    patterns = [
        pattern.pattern.regex.pattern
        for pattern in get_resolver("api.urls").url_patterns
        if getattr(pattern, "name", None) not in (None, "api-root", "schema", "docs")
    ]

    routes = {readable_route("api/" + regex.removeprefix("^")) for regex in patterns}

    assert routes == set(schema["paths"])


def test_an_authenticated_request_logs_its_user_id(token_client, organiser_factory, json_log):
    organiser = organiser_factory()

    token_client(organiser).get("/api/me/events/")

    [line] = [
        line for line in json_log() if line["logger"] == "event_management_system.ops.requests"
    ]
    assert line["status"] == 200
    assert line["user_id"] == organiser.pk


def test_probes_are_not_logged_at_info(client, json_log):
    client.get("/healthz")
    client.get("/readyz")

    assert [
        line for line in json_log() if line["logger"] == "event_management_system.ops.requests"
    ] == []


def test_behind_a_trusted_proxy_the_client_is_the_forwarded_address(client, settings, json_log):
    settings.TRUSTED_PROXIES = 1
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    client.get("/api/events/", HTTP_X_FORWARDED_FOR="198.51.100.7")
    client.get("/api/events/", HTTP_X_FORWARDED_FOR="198.51.100.7", REMOTE_ADDR="127.0.0.2")
    settings.TRUSTED_PROXIES = 0
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
    client.get("/api/events/", HTTP_X_FORWARDED_FOR="198.51.100.7", REMOTE_ADDR="127.0.0.2")

    lines = [
        line for line in json_log() if line["logger"] == "event_management_system.ops.requests"
    ]
    # Not believed from a client when no proxy is trusted.
    assert [line["client"] for line in lines] == ["198.51.100.7", "198.51.100.7", "127.0.0.2"]


def test_a_500_gives_its_request_id_and_every_line_of_it_carries_the_id(
    client, monkeypatch, json_log
):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("api.events.views.upcoming_events", explode)
    client.raise_request_exception = False

    response = client.get("/api/events/", HTTP_X_REQUEST_ID="report-42")

    assert response.status_code == 500
    assert response.json() == {
        "detail": "The server failed to handle this request.",
        "code": "server_error",
        "request_id": "report-42",
    }
    assert response["X-Request-ID"] == "report-42"
    lines = json_log()
    [error] = [line for line in lines if line["logger"] == "django.request"]
    assert error["level"] == "error"
    assert "RuntimeError: boom" in error["exception"]
    assert {line["request_id"] for line in lines} == {"report-42"}


def test_a_generated_request_id_is_the_one_in_the_500(client, monkeypatch, json_log):
    monkeypatch.setattr("api.events.views.upcoming_events", lambda **kwargs: 1 / 0)
    client.raise_request_exception = False

    response = client.get("/api/events/")

    assert response.status_code == 500
    assert response.json()["request_id"] == response["X-Request-ID"]
    assert {line["request_id"] for line in json_log()} == {response["X-Request-ID"]}


def test_no_line_names_an_email_a_token_or_a_password(
    client, api_client, organiser_factory, event_factory, json_log
):
    password = "correct-horse-battery-staple-9"
    organiser = organiser_factory(password=password)
    event = event_factory()

    signed_in = api_client.post(
        "/api/auth/token/",
        {"username": organiser.username, "password": password},
        format="json",
    )
    token = signed_in.json()["token"]
    registered = client.post(
        f"/api/events/{event.pk}/register/",
        {"name": "Private Person", "email": "private.person@example.com"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    place_token = registered.json()["token"]
    client.get(f"/api/registrations/{place_token}/")
    client.delete(f"/api/registrations/{place_token}/")
    client.get("/api/me/events/", HTTP_AUTHORIZATION=f"Bearer {token}wrong")

    assert signed_in.status_code == registered.status_code == 201
    lines = json_log()
    assert (
        len([line for line in lines if line["logger"] == "event_management_system.ops.requests"])
        == 5
    )
    text = "\n".join(json.dumps(line) for line in lines)
    for secret in ("private.person", "example.com", token, place_token, password):
        assert secret not in text


def test_a_server_error_on_a_registration_s_page_does_not_log_its_token(
    client, monkeypatch, json_log
):
    # Django's own error line names the request's path, and a registration's path holds its
    # token: the line names the route instead, as the request's own line does.
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("api.registrations.views.place_by_token", explode)
    client.raise_request_exception = False
    token = "tok3n-that-must-stay-secret-0123456789abcdefghij"

    response = client.get(f"/api/registrations/{token}/")

    assert response.status_code == 500
    lines = json_log()
    [error] = [line for line in lines if line["logger"] == "django.request"]
    [request] = [line for line in lines if line["event"] == "request"]
    assert error["event"] == f"Internal Server Error: {request['route']}"
    assert request["route"] == "/api/registrations/{token}/"
    assert all(token not in json.dumps(line) for line in lines)


def test_the_request_line_s_short_way_writes_what_structlog_s_chain_writes():
    json_formatter = formatter("json")
    record = logging.LogRecord(
        "event_management_system.ops.requests", logging.INFO, "", 0, "request", None, None
    )
    fields = {"method": "GET", "route": "/api/events/", "view": "event-list", "status": 200}
    setattr(record, REQUEST_FIELDS, fields)
    structlog.contextvars.bind_contextvars(request_id="same-id")
    try:
        short = json.loads(json_formatter.format(record))
        chained = json.loads(super(type(json_formatter), json_formatter).format(record))
    finally:
        structlog.contextvars.clear_contextvars()

    # The chain stamps the time it formats the line, the short way the time the line was made.
    assert short.pop("time").endswith("Z")
    assert chained.pop("time").endswith("Z")
    assert short == chained
    assert short["request_id"] == "same-id"


@pytest.mark.parametrize(
    "fields",
    [
        {"method": "GET", "route": "/api/events/", "view": "event-list", "status": 200},
        {"client": None, "duration_ms": 1.5, "status": 503, "user_id": 7, "view": "a b"},
        {"route": "/a=b/", "method": "it's", "view": 'say "hi"\n'},
    ],
)
def test_the_console_request_line_s_short_way_writes_what_structlog_s_renderer_writes(fields):
    console = formatter("console")
    record = logging.LogRecord(
        "event_management_system.ops.requests", logging.INFO, "", 0, "request", None, None
    )
    setattr(record, REQUEST_FIELDS, fields)
    structlog.contextvars.bind_contextvars(request_id="same-id")
    try:
        short = console.format(record)
        chained = super(type(console), console).format(record)
    finally:
        structlog.contextvars.clear_contextvars()

    # Each starts with the time: the chain's when it formats, the short way's when made.
    assert short.split(" ", 1)[1] == chained.split(" ", 1)[1]
    assert "request_id=same-id" in short
