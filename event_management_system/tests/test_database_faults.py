"""When PostgreSQL is slow, locked, frozen or gone, a request answers 503 quickly, half-done never.

Each fault is real: another session holds the lock, a proxy between the app and the server
stops forwarding (as a SIGSTOPped server does), a port accepts and never answers, the proxy
closes. The timeouts are short here; the defaults are in settings.py.
"""

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager

import psycopg
import pytest
from django.db import close_old_connections, connection

from core.models import Attendee, Event
from core.tests.admin_pages import event_form
from core.tests.racing import race
from event_management_system.ops.endpoints import READINESS_FRESH
from event_management_system.tests.tcp_proxy import FreezableProxy
from testing.servers import database_url, gunicorn

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL's timeouts, locks and sockets"
    ),
    pytest.mark.django_db(transaction=True),
]

# A lock holder lets go after this long, and a frozen proxy thaws: without a bound a request
# would answer late instead of hanging the test run.
RELEASE_AFTER = 5.0
# Slack on every bound for a loaded two-core machine.
SLACK = 1.0


@pytest.fixture
def reconnect(transactional_db):
    """`reconnect(port=..., **options)`: this thread's connection, reopened at another port of
    127.0.0.1 and/or with other OPTIONS; the real one is back after the test."""
    original = connection.settings_dict

    def apply(*, port: int | None = None, **options):
        connection.close()
        connection.settings_dict = {
            **original,
            **({"HOST": "127.0.0.1", "PORT": port} if port else {}),
            "OPTIONS": {**original["OPTIONS"], **options},
        }

    yield apply
    connection.close()
    connection.settings_dict = original


@contextmanager
def holding(sql: str, *params):
    """Another session runs `sql` in a transaction and keeps its locks until the block ends."""
    settings = connection.settings_dict
    ready, done = threading.Event(), threading.Event()
    failure = []

    def hold():
        try:
            with psycopg.connect(
                dbname=settings["NAME"],
                host=settings["HOST"] or None,
                port=settings["PORT"] or None,
                user=settings["USER"] or None,
                password=settings["PASSWORD"] or None,
            ) as session:
                session.execute(sql, params)
                ready.set()
                done.wait(RELEASE_AFTER)
                session.rollback()
        except Exception as error:  # reported by the test, not lost in the thread
            failure.append(error)
            ready.set()

    thread = threading.Thread(target=hold)
    thread.start()
    ready.wait(10)
    try:
        assert not failure, failure
        yield
    finally:
        done.set()
        thread.join()


@pytest.fixture
def proxy():
    """A FreezableProxy in front of the test database; closed after the test."""
    settings = connection.settings_dict
    with FreezableProxy((settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432))) as p:
        yield p


def timed(call):
    start = time.monotonic()
    response = call()
    return response, time.monotonic() - start


def assert_unavailable(response):
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "service_unavailable"
    assert response["Retry-After"] == "1"


def register(client, event, email="ada@example.com"):
    return client.post(
        f"/api/events/{event.pk}/register/", {"name": "Ada", "email": email}, format="json"
    )


@pytest.mark.parametrize(
    "lock",
    [
        pytest.param("SELECT id FROM core_event WHERE id = %s FOR UPDATE", id="event-row"),
        # The registration locks the event row, then waits to insert: a wait mid-transaction.
        pytest.param("LOCK TABLE core_attendee IN SHARE MODE", id="attendee-table"),
    ],
)
def test_registration_that_waits_on_a_lock_answers_503_and_keeps_nothing(
    api_client, event_factory, reconnect, lock
):
    event = event_factory(max_capacity=5)
    reconnect(lock_timeout=0.3)

    with holding(lock, *([event.pk] if "%s" in lock else [])):
        response, elapsed = timed(lambda: register(api_client, event))

    assert_unavailable(response)
    assert elapsed < 0.3 + SLACK
    event.refresh_from_db()
    assert event.seats_taken == 0
    assert not Attendee.objects.exists()
    assert register(api_client, event).status_code == 201


@pytest.mark.usefixtures("fast_passwords")
def test_event_update_that_waits_on_a_lock_answers_503_and_changes_nothing(
    admin_client, event_factory, reconnect
):
    event = event_factory(name="Launch")
    admin_client.raise_request_exception = False
    reconnect(lock_timeout=0.3)

    with holding("SELECT id FROM core_event WHERE id = %s FOR UPDATE", event.pk):
        response, elapsed = timed(
            lambda: admin_client.post(
                f"/admin/core/event/{event.pk}/change/", event_form(event, name="Renamed")
            )
        )

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert elapsed < 0.3 + SLACK
    assert Event.objects.get(pk=event.pk).name == "Launch"


def test_read_past_the_statement_timeout_answers_503(api_client, event_factory, reconnect):
    event_factory()
    reconnect(statement_timeout=0.5, lock_timeout=0)  # no lock bound: the statement's applies

    with holding("LOCK TABLE core_event IN ACCESS EXCLUSIVE MODE"):
        response, elapsed = timed(lambda: api_client.get("/api/events/"))

    assert_unavailable(response)
    assert elapsed < 0.5 + SLACK


def freezing_before(proxy: FreezableProxy, statement: str):
    """An execute wrapper that freezes the proxy just before the app sends `statement`."""

    def wrapper(execute, sql, params, many, context):
        if sql.startswith(statement):
            proxy.freeze(seconds=RELEASE_AFTER)
        return execute(sql, params, many, context)

    return wrapper


@pytest.mark.parametrize(
    ("request_", "statement"),
    [
        pytest.param(lambda client, event: client.get("/api/events/"), "SELECT", id="list"),
        # The registration's one statement: the lock, the decision and both inserts.
        pytest.param(register, "SELECT * FROM core_register_attendee", id="register"),
    ],
)
def test_server_frozen_mid_request_answers_503_and_keeps_nothing(
    api_client, event_factory, reconnect, proxy, request_, statement
):
    event = event_factory(max_capacity=5)
    reconnect(port=proxy.port, statement_timeout=0.5)
    assert api_client.get(f"/api/events/{event.pk}/").status_code == 200

    with connection.execute_wrapper(freezing_before(proxy, statement)):
        response, elapsed = timed(lambda: request_(api_client, event))
    proxy.thaw()
    close_old_connections()  # as at the end of every request outside the test client

    assert_unavailable(response)
    # statement_timeout, then the watchdog's grace and tick: the server cannot answer.
    assert elapsed < 0.5 + 1.1 + SLACK
    event.refresh_from_db()
    assert event.seats_taken == 0
    assert not Attendee.objects.exists()
    assert register(api_client, event).status_code == 201


def get(url: str) -> tuple[int, dict, dict, float]:
    """GET `url`: status, headers, JSON body and seconds taken."""
    start = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=3 * RELEASE_AFTER) as response:
            status, headers, body = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers, body = error.code, dict(error.headers), error.read()
    return status, headers, json.loads(body), time.monotonic() - start


SERVER_TIMEOUTS = {
    "DJANGO_DB_CONNECT_TIMEOUT": "2",
    "DJANGO_DB_STATEMENT_TIMEOUT": "1",
    # One process, one thread: every request meets the same kept connection.
    "GUNICORN_THREADS": "1",
}


def post(url: str, body: dict) -> int:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=3 * RELEASE_AFTER) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_crowd_racing_for_one_event_never_meets_the_lock_timeout(event_factory):
    event = event_factory(max_capacity=1000)
    crowd = 64

    with gunicorn() as url:  # the default timeouts, four workers
        statuses = race(
            crowd,
            lambda i: post(
                f"{url}/api/events/{event.pk}/register/",
                {"name": f"Racer {i}", "email": f"r{i}@example.com"},
            ),
        )

    assert statuses == [201] * crowd
    assert Event.objects.get(pk=event.pk).seats_taken == crowd


def test_gunicorn_answers_503_while_the_server_is_frozen_and_recovers(proxy):
    proxied = database_url(host="127.0.0.1", port=proxy.port)
    with gunicorn(workers=1, env={**SERVER_TIMEOUTS, "DATABASE_URL": proxied}) as url:
        assert get(f"{url}/api/events/")[0] == 200

        proxy.freeze(seconds=3 * RELEASE_AFTER)
        status, headers, body, elapsed = get(f"{url}/api/events/")
        proxy.thaw()

        assert (status, body["code"], headers["Retry-After"]) == (503, "service_unavailable", "1")
        # The kept connection's health check is cut after the connect timeout, and the request
        # answers then, without waiting as long again for a new connection.
        assert elapsed < 2 + SLACK
        assert get(f"{url}/api/events/")[0] == 200


def test_gunicorn_answers_503_when_the_server_accepts_and_never_answers():
    with socket.create_server(("127.0.0.1", 0), backlog=16) as silent:
        port = silent.getsockname()[1]
        silent_url = database_url(host="127.0.0.1", port=port)
        with gunicorn(workers=1, env={**SERVER_TIMEOUTS, "DATABASE_URL": silent_url}) as url:
            status, headers, body, elapsed = get(f"{url}/api/events/")

    assert (status, body["code"], headers["Retry-After"]) == (503, "service_unavailable", "1")
    assert 2 <= elapsed < 2 + SLACK


@pytest.mark.parametrize("cache", [False, True], ids=["computed", "cached"])
def test_every_request_answers_503_while_the_server_is_down(
    api_client, event_factory, reconnect, proxy, settings, cache
):
    settings.API_RESPONSE_CACHE = cache
    event = event_factory()
    reconnect(port=proxy.port)
    assert api_client.get("/api/events/").status_code == 200
    assert api_client.get(f"/api/events/{event.pk}/").status_code == 200
    api_client.raise_request_exception = False

    proxy.close()

    assert_unavailable(api_client.get("/api/events/"))
    assert_unavailable(api_client.get(f"/api/events/{event.pk}/"))
    assert_unavailable(api_client.get(f"/api/events/{event.pk}/attendees/"))
    assert_unavailable(register(api_client, event))


# The bounds docs/operations/deploying.md states, measured at the client, with gunicorn in
# between: a request waits for a thread, then for the database, and the client sees both.

BUSY_SERVER = {
    "DJANGO_DB_CONNECT_TIMEOUT": "2",
    "DJANGO_DB_STATEMENT_TIMEOUT": "15",
    "DJANGO_DB_READ_STATEMENT_TIMEOUT": "1",
    "DJANGO_DB_LOCK_TIMEOUT": "0",
    "GUNICORN_QUEUE_TIMEOUT": "1",
    "GUNICORN_THREADS": "2",
}


def in_background(call, count: int) -> tuple[list, list[threading.Thread]]:
    """Start `count` threads each making `call()`; their results, in a list filled as they end."""
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(call())) for _ in range(count)]
    for thread in threads:
        thread.start()
    return results, threads


def test_frozen_server_probes_and_reads_answer_within_their_bounds_at_the_client(proxy):
    proxied = database_url(host="127.0.0.1", port=proxy.port)
    # A thread is waited for half a second at most: less than the held reads' 1 s bound.
    env = {**BUSY_SERVER, "DATABASE_URL": proxied, "GUNICORN_QUEUE_TIMEOUT": "0.5"}
    with gunicorn(workers=1, env=env) as url:
        # Every thread keeps a connection, and /readyz its own.
        race(8, lambda i: get(f"{url}/api/events/"))
        assert get(f"{url}/readyz")[0] == 200
        time.sleep(READINESS_FRESH)  # that answer has aged out: the next probe checks again

        proxy.freeze(seconds=3 * RELEASE_AFTER)
        # Both threads held by reads waiting on the frozen server, then one more read.
        held, threads = in_background(lambda: get(f"{url}/api/events/"), 2)
        time.sleep(0.2)
        queued, more = in_background(lambda: get(f"{url}/api/events/"), 1)
        healthz = get(f"{url}/healthz")
        readyz = get(f"{url}/readyz")
        for thread in threads + more:
            thread.join()
        proxy.thaw()
        queued = queued[0]

        # The probes never wait for a thread: /healthz at once, /readyz within its 2 s.
        assert healthz[0] == 200
        assert healthz[3] < SLACK
        assert readyz[0] == 503
        assert readyz[2]["checks"]["database"] == "timeout"
        assert readyz[3] < 2 + SLACK
        # A read that waited for a thread past GUNICORN_QUEUE_TIMEOUT answers 503 then.
        assert (queued[0], queued[2]["code"], queued[1]["Retry-After"]) == (
            503,
            "service_unavailable",
            "1",
        )
        assert queued[3] < 0.5 + SLACK
        # The held reads answer 503 once the read bound has passed (the watchdog's cut), not 15 s.
        assert [status for status, *_ in held] == [503, 503]
        assert all(elapsed < 1 + 0.2 + SLACK for *_, elapsed in held)

        assert get(f"{url}/api/events/")[0] == 200
        assert get(f"{url}/readyz")[0] == 200


def test_a_read_has_the_read_bound_and_a_write_keeps_the_statement_bound(event_factory):
    event = event_factory(max_capacity=5)
    env = {**BUSY_SERVER, "DJANGO_DB_READ_STATEMENT_TIMEOUT": "0.5", "GUNICORN_THREADS": "4"}
    with gunicorn(workers=1, env=env) as url:
        assert get(f"{url}/api/events/")[0] == 200  # the thread's connection is now a reader's
        with holding("LOCK TABLE core_event IN ACCESS EXCLUSIVE MODE"):
            status, _, body, elapsed = get(f"{url}/api/events/")
            assert (status, body["code"]) == (503, "service_unavailable")
            assert elapsed < 0.5 + SLACK
            # A registration waits for the lock (held for RELEASE_AFTER s) under the 15 s bound.
            start = time.monotonic()
            registered = post(
                f"{url}/api/events/{event.pk}/register/", {"name": "Ada", "email": "a@example.com"}
            )
            assert (registered, time.monotonic() - start > 0.5) == (201, True)
        assert get(f"{url}/api/events/")[0] == 200


def server_sessions() -> set[tuple[int, object]]:
    """(pid, start) of each connection to the test database other than this one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return set(cursor.fetchall())


def test_readyz_reuses_one_connection_and_checks_at_most_once_a_second():
    others = server_sessions()
    with gunicorn(workers=1) as url:
        statuses = race(20, lambda i: get(f"{url}/readyz")[0])
        first = server_sessions() - others
        time.sleep(READINESS_FRESH + 0.2)
        assert get(f"{url}/readyz")[0] == 200
        second = server_sessions() - others

    assert statuses == [200] * 20
    # One connection of /readyz's own, kept: the same server process answered both times.
    assert len(first) == 1
    assert second == first
