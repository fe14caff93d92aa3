"""The API behind PgBouncer in transaction pooling mode (DJANGO_DB_POOLER=pgbouncer): the same
registrations, races, cached reads and lock bounds as on a direct connection."""

import os
import time

import psycopg
import pytest
from django.db import connection

from core.models import Attendee
from core.tests.racing import race
from event_management_system.tests.test_database_faults import holding
from testing import pgbouncer as bouncer
from testing.servers import database_url, gunicorn, send_json

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PgBouncer pools PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

# Slack on every bound for a loaded two-core machine.
SLACK = 1.0


@pytest.fixture
def pgbouncer_at():
    """`pgbouncer_at(**settings)`: start PgBouncer (transaction mode) in front of the test
    database's server; yields its port. Skips without PgBouncer, fails with REQUIRE_CLUSTER=1."""
    if not bouncer.installed():
        reason = "PgBouncer is not installed; install it with: apt-get install -y pgbouncer"
        if os.environ.get("REQUIRE_CLUSTER") == "1":
            pytest.fail(f"REQUIRE_CLUSTER=1, but {reason}", pytrace=False)
        pytest.skip(reason)
    settings = connection.settings_dict
    opened = []

    def start(**options) -> int:
        context = bouncer.pgbouncer(pg_port=int(settings["PORT"] or 5432), **options)
        opened.append(context)
        return context.__enter__()

    yield start
    for context in reversed(opened):
        context.__exit__(None, None, None)


def app_env(port: int) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url(host="127.0.0.1", port=port),
        "DJANGO_DB_POOLER": "pgbouncer",
        "DJANGO_API_OPEN_ACCESS": "true",
    }


def register(url: str, event_id: int, email: str) -> tuple[int, dict | None]:
    return send_json(
        "POST", f"{url}/api/events/{event_id}/register/", {"name": "Guest", "email": email}
    )


def test_pgbouncer_refuses_the_startup_options_a_direct_connection_sends(pgbouncer_at):
    port = pgbouncer_at()
    settings = connection.settings_dict

    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter: options"):
        psycopg.connect(
            host="127.0.0.1", port=port, user=settings["USER"], dbname=settings["NAME"],
            options="-c lock_timeout=5000",
        )  # fmt: skip


def test_registrations_race_for_the_last_seats_through_pgbouncer(pgbouncer_at, event_factory):
    event = event_factory(max_capacity=20)
    clients = 48
    with gunicorn(workers=3, env=app_env(pgbouncer_at(pool_size=4))) as url:
        statuses = race(
            clients, lambda index: register(url, event.pk, f"guest{index}@example.com")[0]
        )
        detail = send_json("GET", f"{url}/api/events/{event.pk}/")[1]

    assert sorted(statuses) == [201] * 20 + [409] * 28
    assert Attendee.objects.filter(event=event).count() == 20
    event.refresh_from_db()
    assert event.seats_taken == 20
    assert detail["attendee_count"] == 20


def test_cached_reads_follow_each_write_through_pgbouncer(pgbouncer_at, event_factory):
    event = event_factory(name="Launch", max_capacity=10)
    with gunicorn(workers=3, env=app_env(pgbouncer_at())) as url:
        for _ in range(12):  # every worker caches the answer
            assert send_json("GET", f"{url}/api/events/{event.pk}/")[1]["attendee_count"] == 0
            assert send_json("GET", f"{url}/api/events/{event.pk}/attendees/")[1]["count"] == 0

        for index in range(3):
            assert register(url, event.pk, f"ada{index}@example.com")[0] == 201

        for _ in range(12):
            assert send_json("GET", f"{url}/api/events/{event.pk}/")[1]["attendee_count"] == 3
            attendees = send_json("GET", f"{url}/api/events/{event.pk}/attendees/")[1]
            assert attendees["count"] == 3


def test_a_lock_wait_is_bounded_behind_pgbouncer_too(pgbouncer_at, event_factory):
    event = event_factory(max_capacity=5)
    with gunicorn(workers=1, env=app_env(pgbouncer_at(lock_timeout=0.3))) as url:
        with holding("SELECT id FROM core_event WHERE id = %s FOR UPDATE", event.pk):
            start = time.monotonic()
            status, body = register(url, event.pk, "ada@example.com")
            elapsed = time.monotonic() - start

        assert (status, body["code"]) == (503, "service_unavailable")
        assert elapsed < 0.3 + SLACK
        assert not Attendee.objects.filter(event=event).exists()
        assert register(url, event.pk, "ada@example.com")[0] == 201


def test_a_long_statement_is_bounded_behind_pgbouncer_too(pgbouncer_at):
    port = pgbouncer_at(statement_timeout=0.3)
    settings = connection.settings_dict
    with psycopg.connect(
        host="127.0.0.1", port=port, user=settings["USER"], dbname=settings["NAME"]
    ) as session:
        with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
            session.execute("SELECT pg_sleep(3)")
