"""A connection kept between requests is not tested with a query as each request starts; one
the server closed meanwhile is replaced on its first statement's error, and that request still
gets its answer (event_management_system/postgresql)."""

import pytest
from django.db import close_old_connections, connection, connections

from testing.servers import gunicorn, send_json

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="a server that drops connections: PostgreSQL"
    ),
]


def terminate(pid: int) -> None:
    """Close a server process's connection from the server's side, as a restart does."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            assert cursor.fetchone() == (True,)
    finally:
        other.close()


def request(client, method, path, body=None):
    """A request as the WSGI handler serves it: Django's test client leaves out the connection
    upkeep that starts each request (it disconnects close_old_connections)."""
    close_old_connections()
    try:
        return getattr(client, method)(path, body, format="json")
    finally:
        close_old_connections()


def backend_pid() -> int:
    return connection.connection.info.backend_pid


@pytest.fixture
def health_checks(monkeypatch):
    """Counts the connection checks (`SELECT 1`) Django runs."""
    calls = []
    backend = type(connections["default"])
    original = backend.is_usable

    def counted(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(backend, "is_usable", counted)
    return calls


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("get", "/api/events/{id}/", None, 200),  # one statement, outside a transaction
        ("post", "/api/events/{id}/register/", {"name": "Ada", "email": "ada@example.com"}, 201),
        ("patch", "/api/events/{id}/", {"location": "Hall B"}, 200),  # in a transaction
    ],
)
def test_a_connection_the_server_closed_is_replaced_within_the_request(
    api_client, event_factory, staff_factory, health_checks, settings, method, path, body, status
):
    settings.API_RESPONSE_CACHE = False
    api_client.force_authenticate(staff_factory())
    event = event_factory()
    assert request(api_client, "get", f"/api/events/{event.pk}/").status_code == 200
    first = backend_pid()
    terminate(first)

    response = request(api_client, method, path.format(id=event.pk), body)
    assert response.status_code == status, response.content
    assert backend_pid() != first
    assert health_checks == []  # found by the error, not by a query per request


def test_a_kept_connection_costs_no_query_as_a_request_starts(
    api_client, event_factory, health_checks
):
    event = event_factory()
    for _ in range(3):
        assert request(api_client, "get", f"/api/events/{event.pk}/").status_code == 200
    assert health_checks == []


def test_gunicorn_answers_after_the_server_closed_every_kept_connection(event_factory):
    event = event_factory()
    with gunicorn(workers=2) as url:
        for _ in range(8):  # every worker and thread opens its connection
            assert send_json("GET", f"{url}/api/events/{event.pk}/")[0] == 200
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert cursor.fetchone()[0] >= 1
        for _ in range(8):
            status, body = send_json("GET", f"{url}/api/events/{event.pk}/")
            assert status == 200, body
