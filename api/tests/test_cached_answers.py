"""A repeated anonymous event read is answered by the WSGI application itself (CachedAnswers,
api/caching.py), before Django builds a request: the same answer, byte for byte but its request
id, never older than a committed change, and logged and counted as any.

These tests call the application gunicorn serves (event_management_system.wsgi) with WSGI
environs, as gunicorn does. The response cache needs change versions, which PostgreSQL keeps;
on SQLite they skip, and every answer there comes from the stack.
"""

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api import caching
from api.events.views import EventViewSet
from api.tests.wsgi import Answer, call_wsgi
from event_management_system.ops.logs import REQUEST_FIELDS

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="change versions are kept on PostgreSQL only"
    ),
]


def wsgi_get(path: str, query: str = "", **headers) -> Answer:
    return call_wsgi("GET", path, query, **headers)


@pytest.fixture(autouse=True)
def empty_cache():
    caching.response_cache.clear()
    yield
    caching.response_cache.clear()


@pytest.fixture
def paths(event_factory):
    event = event_factory(max_capacity=5)
    return event, ["/api/events/", f"/api/events/{event.pk}/", f"/api/events/{event.pk}/attendees/"]


def test_a_repeated_read_is_answered_before_django_the_same_but_its_request_id(paths):
    _, event_paths = paths
    for path in event_paths:
        first = wsgi_get(path)
        assert first.status == "200 OK"
        assert first.through_django
        with CaptureQueriesContext(connection) as queries:
            again = wsgi_get(path)
        assert not again.through_django
        assert len(queries) == 1
        assert "change_version" in queries[0]["sql"]
        assert again.status == first.status
        assert again.body == first.body
        assert again.headers_but_the_request_id() == first.headers_but_the_request_id()
        assert again.header("X-Request-ID") != first.header("X-Request-ID")


def test_a_committed_registration_is_seen_by_the_next_read(paths, api_client):
    event, event_paths = paths
    before = {path: wsgi_get(path) for path in event_paths}
    assert all(not wsgi_get(path).through_django for path in event_paths)

    response = api_client.post(
        f"/api/events/{event.pk}/register/", {"name": "Ada", "email": "ada@x.io"}, format="json"
    )
    assert response.status_code == 201

    for path in event_paths:
        after = wsgi_get(path)
        assert after.through_django
        assert after.body != before[path].body
    assert b"ada@x.io" in wsgi_get(f"/api/events/{event.pk}/attendees/").body


def test_a_request_that_may_be_someone_s_is_answered_by_the_stack(paths):
    _, event_paths = paths
    path = event_paths[1]
    wsgi_get(path)
    assert not wsgi_get(path).through_django
    assert wsgi_get(path, authorization="Bearer nobody").through_django
    assert wsgi_get(path, cookie="theme=dark").through_django
    assert wsgi_get(path, query="tz=Asia/Tokyo").through_django  # an entry of its own, at first
    assert not wsgi_get(path, query="tz=Asia/Tokyo").through_django


def test_each_host_and_scheme_is_its_own_entry(paths, event_factory, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")  # a trusted proxy
    event_factory()  # a second page, linked from the first
    path = paths[1][0]
    assert b"http://testserver/" in wsgi_get(path, query="page_size=1").body
    other = wsgi_get(path, query="page_size=1", host="127.0.0.1")
    assert other.through_django
    assert b"http://127.0.0.1/" in other.body
    proxied = wsgi_get(path, query="page_size=1", x_forwarded_proto="https")
    assert proxied.through_django
    assert b"https://testserver/" in proxied.body


def test_a_list_answer_ends_when_its_first_event_starts(paths, monkeypatch):
    event, event_paths = paths
    wsgi_get(event_paths[0])
    assert not wsgi_get(event_paths[0]).through_django
    assert [shown["id"] for shown in json.loads(wsgi_get(event_paths[0]).body)["results"]] == [
        event.pk
    ]
    later = event.start_time + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    answer = wsgi_get(event_paths[0])
    assert answer.through_django
    assert json.loads(answer.body)["results"] == []


def test_a_database_error_on_the_version_read_is_answered_503_by_the_stack(paths, monkeypatch):
    _, event_paths = paths
    wsgi_get(event_paths[1])

    def unreachable(stamp):
        raise OperationalError("the server closed the connection")

    monkeypatch.setattr(caching, "read_versions", unreachable)
    answer = wsgi_get(event_paths[1])
    assert answer.through_django
    assert answer.status.startswith("503")
    assert b'"service_unavailable"' in answer.body


def test_an_answer_given_before_django_is_logged_and_counted(paths, caplog):
    _, event_paths = paths
    wsgi_get(event_paths[1])
    hits_before = caching.CACHE_HITS._value.get()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="event_management_system.ops.requests"):
        answer = wsgi_get(event_paths[1], x_request_id="trace-42")
    assert not answer.through_django
    assert answer.header("X-Request-ID") == "trace-42"
    (line,) = [record for record in caplog.records if record.getMessage() == "request"]
    fields = line.__dict__[REQUEST_FIELDS]
    assert fields["route"] == "/api/events/{id}/"
    assert fields["status"] == 200
    assert caching.CACHE_HITS._value.get() == hits_before + 1


def test_a_path_that_is_not_ascii_is_never_kept(event_factory):
    path = "/api/events/\u00e9/"
    assert wsgi_get(path).status.startswith("404")
    assert caching.answer_key({"PATH_INFO": path, "QUERY_STRING": ""}) is None
    assert caching.answer_key({"PATH_INFO": "/api/events/", "QUERY_STRING": "q=\u00e9"}) is None


def test_behind_a_trusted_proxy_an_answer_given_before_django_logs_the_forwarded_client(
    paths, caplog, settings
):
    settings.TRUSTED_PROXIES = 1
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    _, event_paths = paths
    wsgi_get(event_paths[1], x_forwarded_for="198.51.100.7")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="event_management_system.ops.requests"):
        answer = wsgi_get(event_paths[1], x_forwarded_for="198.51.100.7")
    assert not answer.through_django
    assert answer.status == "200 OK"
    (line,) = [record for record in caplog.records if record.getMessage() == "request"]
    assert line.__dict__[REQUEST_FIELDS]["client"] == "198.51.100.7"


def test_a_list_a_registration_outdated_is_computed_with_no_read_it_need_not_make(
    paths, api_client
):
    event, _ = paths
    first = wsgi_get("/api/events/")
    assert not wsgi_get("/api/events/").through_django
    api_client.post(
        f"/api/events/{event.pk}/register/", {"name": "Ada", "email": "ada@x.io"}, format="json"
    )

    with CaptureQueriesContext(connection) as queries:
        after = wsgi_get("/api/events/")

    assert after.through_django
    assert json.loads(after.body)["results"][0]["attendee_count"] == 1
    assert after.body != first.body
    statements = [query["sql"] for query in queries]
    # Its versions are read once to find it outdated and once to stamp the new answer, not a
    # third time by the middleware; the next start is kept at the catalog's version, which a
    # registration does not move.
    version_reads = [sql for sql in statements if "sum((SELECT change_version" in sql]
    assert len(version_reads) == 2, statements
    assert not any("MIN(" in sql for sql in statements), statements


def read_outdated_list_at_once(event, api_client, monkeypatch, *, threads: int, seconds: float):
    """`threads` reads of the list, made at once after a registration outdated it, while its
    computation takes `seconds`."""
    wsgi_get("/api/events/")
    assert not wsgi_get("/api/events/").through_django
    assert (
        api_client.post(
            f"/api/events/{event.pk}/register/", {"name": "Ada", "email": "ada@x.io"}, format="json"
        ).status_code
        == 201
    )
    computed = EventViewSet.list

    def slow_list(self, request, *args, **kwargs):
        time.sleep(seconds)
        return computed(self, request, *args, **kwargs)

    monkeypatch.setattr(EventViewSet, "list", slow_list)
    start = threading.Barrier(threads)

    def read_at_once(_):
        start.wait()
        try:
            return wsgi_get("/api/events/")
        finally:
            connection.close()

    with ThreadPoolExecutor(threads) as pool:
        answers = list(pool.map(read_at_once, range(threads)))
    assert [answer.status for answer in answers] == ["200 OK"] * threads
    assert len({answer.body for answer in answers}) == 1
    assert json.loads(answers[0].body)["results"][0]["attendee_count"] == 1
    assert len(caching.recomputing) == 0
    return answers


@pytest.mark.django_db(transaction=True)
def test_an_outdated_list_is_computed_once_by_the_threads_that_ask_for_it_at_once(
    event_factory, api_client, monkeypatch
):
    # The computation is long enough for every thread to arrive while it runs: one computes,
    # the others answer from what it kept, however long a loaded machine makes them wait.
    monkeypatch.setattr(caching, "RECOMPUTE_PATIENCE", 30.0)
    answers = read_outdated_list_at_once(
        event_factory(max_capacity=5), api_client, monkeypatch, threads=6, seconds=0.3
    )

    assert sum(answer.through_django for answer in answers) == 1


@pytest.mark.django_db(transaction=True)
def test_a_thread_waits_for_another_s_computation_a_bounded_time(
    event_factory, api_client, monkeypatch
):
    # A computation that outlasts the patience: each thread computes the answer itself.
    monkeypatch.setattr(caching, "RECOMPUTE_PATIENCE", 0.05)
    answers = read_outdated_list_at_once(
        event_factory(max_capacity=5), api_client, monkeypatch, threads=4, seconds=0.5
    )

    assert sum(answer.through_django for answer in answers) == 4
