"""Who may do what: every endpoint for every kind of caller, with open access off and on.

The callers: anonymous; a signed-in user who is no organiser; an organiser who does not own the
event; the event's owner; staff. The table below is the whole rule; each cell is one test, run
on SQLite and on PostgreSQL.
"""

from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import Event

pytestmark = pytest.mark.django_db

CALLERS = ("anonymous", "user", "other organiser", "owner", "staff")
NEW_EVENT = {
    "name": "Launch",
    "location": "Dock 5",
    "start_time": "2031-03-15T09:00:00Z",
    "end_time": "2031-03-15T12:00:00Z",
    "max_capacity": 50,
}


@dataclass(frozen=True)
class Endpoint:
    """An operation, the body it is sent, and the status each caller gets, access off and on."""

    method: str
    path: str
    body: dict | None
    closed: tuple[int, ...]
    open: tuple[int, ...]


EVERYONE = (200,) * 5
MATRIX = {
    "list events": Endpoint("get", "/api/events/", None, EVERYONE, EVERYONE),
    "read an event": Endpoint("get", "/api/events/{id}/", None, EVERYONE, EVERYONE),
    "register": Endpoint(
        "post",
        "/api/events/{id}/register/",
        {"name": "Ada", "email": "ada@example.com"},
        (201,) * 5,
        (201,) * 5,
    ),
    "create an event": Endpoint(
        "post", "/api/events/", NEW_EVENT, (401, 403, 201, 201, 201), (201,) * 5
    ),
    "change an event": Endpoint(
        "patch",
        "/api/events/{id}/",
        {"name": "Renamed"},
        (401, 403, 403, 200, 200),
        (401, 403, 403, 200, 200),
    ),
    "read its attendees": Endpoint(
        "get", "/api/events/{id}/attendees/", None, (401, 403, 403, 200, 200), EVERYONE
    ),
    "read its waiting list": Endpoint(
        "get", "/api/events/{id}/waitlist/", None, (401, 403, 403, 200, 200), EVERYONE
    ),
    "remove an attendee": Endpoint(
        "delete",
        "/api/events/{id}/attendees/{attendee}/",
        None,
        (401, 403, 403, 204, 204),
        (401, 403, 403, 204, 204),
    ),
    "cancel an event": Endpoint(
        "post",
        "/api/events/{id}/cancel/",
        None,
        (401, 403, 403, 200, 200),
        (401, 403, 403, 200, 200),
    ),
    "my events": Endpoint(
        "get", "/api/me/events/", None, (401, 403, 200, 200, 200), (401, 403, 200, 200, 200)
    ),
}
CASES = [
    pytest.param(
        name, caller, open_access, (endpoint.open if open_access else endpoint.closed)[index],
        id=f"{name}-{caller}-{'open' if open_access else 'closed'}",
    )
    for name, endpoint in MATRIX.items()
    for open_access in (False, True)
    for index, caller in enumerate(CALLERS)
]  # fmt: skip


@pytest.fixture
def owner(organiser_factory):
    return organiser_factory(username="owner")


@pytest.fixture
def clients(owner, api_client, token_client, user_factory, organiser_factory, staff_factory):
    return {
        "anonymous": api_client,
        "user": token_client(user_factory(username="user")),
        "other organiser": token_client(organiser_factory(username="other")),
        "owner": token_client(owner),
        "staff": token_client(staff_factory(username="staff")),
    }


@pytest.mark.parametrize(("endpoint", "caller", "open_access", "expected"), CASES)
def test_who_may_do_what(
    owner,
    clients,
    event_factory,
    attendee_factory,
    settings,
    endpoint,
    caller,
    open_access,
    expected,
):
    settings.API_OPEN_ACCESS = open_access
    event = event_factory(owner=owner)
    attendee = attendee_factory(event=event)
    operation = MATRIX[endpoint]

    response = getattr(clients[caller], operation.method)(
        operation.path.format(id=event.pk, attendee=attendee.pk), operation.body, format="json"
    )

    assert response.status_code == expected, response.content
    if expected == 401:
        assert response.json()["code"] == "not_authenticated"
        assert response["WWW-Authenticate"] == "Bearer"
    elif expected == 403:
        assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("open_access", [False, True])
def test_an_organiser_owns_the_events_they_create(owner, clients, settings, open_access):
    settings.API_OPEN_ACCESS = open_access

    response = clients["owner"].post("/api/events/", NEW_EVENT, format="json")

    assert response.status_code == 201
    event = Event.objects.get(pk=response.json()["id"])
    assert event.owner == owner
    assert clients["owner"].get("/api/me/events/").json()["results"][0]["id"] == event.pk


def test_an_event_created_anonymously_under_open_access_has_no_owner(clients, settings):
    settings.API_OPEN_ACCESS = True

    response = clients["anonymous"].post("/api/events/", NEW_EVENT, format="json")

    assert response.status_code == 201
    event = Event.objects.get(pk=response.json()["id"])
    assert event.owner is None
    # Nobody's event: its owner's actions are for staff alone, open access or not.
    path, renamed = f"/api/events/{event.pk}/", {"name": "Renamed"}
    assert clients["other organiser"].patch(path, renamed, format="json").status_code == 403
    assert clients["staff"].patch(path, renamed, format="json").status_code == 200


def test_an_organiser_removed_from_the_organisers_loses_their_events(
    owner, clients, event_factory, settings
):
    settings.API_OPEN_ACCESS = False
    event = event_factory(owner=owner)
    owner.groups.clear()

    assert clients["owner"].get(f"/api/events/{event.pk}/attendees/").status_code == 403
    path = f"/api/events/{event.pk}/"
    assert clients["owner"].patch(path, {"name": "X"}, format="json").status_code == 403


def test_an_unknown_event_is_401_to_anonymous_and_404_to_an_organiser(clients, settings):
    settings.API_OPEN_ACCESS = False

    anonymous = clients["anonymous"].get("/api/events/987654/attendees/")
    organiser = clients["other organiser"].get("/api/events/987654/attendees/")

    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    assert (organiser.status_code, organiser.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "body", "queries"),
    [
        # The same counts as tests/test_queries.py: reading no session, user or token (a
        # registration is one statement on PostgreSQL, five on SQLite: its savepoint, lock,
        # inserts of the attendee and its email's outbox row, release).
        ("get", "/api/events/{id}/", None, 1),
        (
            "post",
            "/api/events/{id}/register/",
            {"name": "Ada", "email": "ada@example.com"},
            1 if connection.vendor == "postgresql" else 5,
        ),
    ],
)
@pytest.mark.parametrize("open_access", [False, True])
def test_anonymous_requests_cost_no_query_to_authenticate(
    api_client, event_factory, settings, open_access, method, path, body, queries
):
    settings.API_OPEN_ACCESS = open_access
    settings.API_RESPONSE_CACHE = False
    event = event_factory()

    with CaptureQueriesContext(connection) as captured:
        response = getattr(api_client, method)(path.format(id=event.pk), body, format="json")

    assert response.status_code < 300
    assert len(captured) == queries, [query["sql"] for query in captured]
