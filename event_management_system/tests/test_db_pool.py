"""The API on Django's own connection pool (DJANGO_DB_POOL=true): each gunicorn worker lends its
threads connections from a psycopg pool, and every guarantee of a direct connection holds."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from core.models import Attendee
from core.tests.racing import race
from event_management_system.tests.test_database_faults import holding
from testing.servers import gunicorn, send_json

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="psycopg's pool is PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]

SLACK = 1.0
POOLED = {"DJANGO_DB_POOL": "true", "DJANGO_API_OPEN_ACCESS": "true"}


def register(url: str, event_id: int, email: str) -> tuple[int, dict | None]:
    return send_json(
        "POST", f"{url}/api/events/{event_id}/register/", {"name": "Guest", "email": email}
    )


def server_connections() -> int:
    """Connections the server holds open on the test database, other than this one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_registrations_race_for_the_last_seats_on_the_pool(event_factory):
    event = event_factory(max_capacity=20)
    clients = 48
    with gunicorn(workers=2, env={**POOLED, "DJANGO_DB_POOL_MAX_SIZE": "3"}) as url:
        statuses = race(
            clients, lambda index: register(url, event.pk, f"guest{index}@example.com")[0]
        )
        # Two workers, three connections each at most, however many requests came.
        held = server_connections()
        detail = send_json("GET", f"{url}/api/events/{event.pk}/")[1]

    assert sorted(statuses) == [201] * 20 + [409] * 28
    assert Attendee.objects.filter(event=event).count() == 20
    assert detail["attendee_count"] == 20
    assert 1 <= held <= 6


def test_a_lock_wait_is_bounded_on_the_pool_too(event_factory):
    event = event_factory(max_capacity=5)
    env = {**POOLED, "DJANGO_DB_LOCK_TIMEOUT": "0.3"}
    with gunicorn(workers=1, env=env) as url:
        with holding("SELECT id FROM core_event WHERE id = %s FOR UPDATE", event.pk):
            start = time.monotonic()
            status, body = register(url, event.pk, "ada@example.com")
            elapsed = time.monotonic() - start

        assert (status, body["code"]) == (503, "service_unavailable")
        assert elapsed < 0.3 + SLACK
        assert register(url, event.pk, "ada@example.com")[0] == 201


def test_a_request_that_cannot_get_a_connection_in_time_answers_503(event_factory):
    event = event_factory()
    env = {
        **POOLED,
        "DJANGO_DB_POOL_MAX_SIZE": "1",
        "DJANGO_DB_POOL_TIMEOUT": "0.5",
        "DJANGO_DB_LOCK_TIMEOUT": "0",
        "DJANGO_DB_READ_STATEMENT_TIMEOUT": "4",
    }
    with gunicorn(workers=1, env=env) as url:
        with holding("LOCK TABLE core_event IN ACCESS EXCLUSIVE MODE"):
            # The pool's one connection waits on the lock for another request...
            waiting = ThreadPoolExecutor(1).submit(send_json, "GET", f"{url}/api/events/")
            time.sleep(0.5)
            # ...so this one waits for a connection until the pool's timeout.
            start = time.monotonic()
            status, body = send_json("GET", f"{url}/api/events/{event.pk}/")
            elapsed = time.monotonic() - start
        waiting.result()

        assert (status, body["code"]) == (503, "service_unavailable")
        assert elapsed < 0.5 + SLACK
        assert send_json("GET", f"{url}/api/events/{event.pk}/")[0] == 200
