"""A plain registration is answered by the WSGI application itself (DirectRegistrations,
api/registrations/direct.py), before Django builds a request: the same rules, rows and emails,
the same answer byte for byte but its own data and request id, logged, counted and throttled as
any; every other request is answered by the stack as before.

These tests call the application gunicorn serves (event_management_system.wsgi) with WSGI
environs, as gunicorn does, on both databases.
"""

import json
import logging
import re
import time
from collections import Counter

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from prometheus_client import REGISTRY

from api.registrations import direct
from api.tests.test_throttling import BUDGET
from api.tests.wsgi import call_wsgi
from core.models import Attendee, Event, EventStatus, OutgoingMessage, Question, QuestionKind
from core.services import register_attendee
from core.tests.racing import race
from core.tests.test_concurrency import SPELLINGS
from event_management_system.ops.logs import REQUEST_FIELDS
from event_management_system.ops.requests import current_request_id
from testing.servers import gunicorn, post_json

pytestmark = pytest.mark.django_db

JSON = "application/json"
SAVEPOINT_NAME = re.compile(r'"s\d+_x\d+"')


def register(event_id: int, body, **headers):
    """POST `body` (JSON unless bytes) to the event's registration, as a client sends it."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers.setdefault("CONTENT_TYPE", JSON)
    return call_wsgi("POST", f"/api/events/{event_id}/register/", body=content, **headers)


def guest(number: int, **more) -> dict:
    return {"name": f"Guest {number}", "email": f"guest{number}@example.com", **more}


def registrations_counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("events_registrations_total", {"outcome": outcome}) or 0.0


@pytest.fixture
def event(event_factory):
    return event_factory(max_capacity=3)


@pytest.fixture
def learned(event):
    """The stack has answered one plain registration, so the application answers the next."""
    first = register(event.pk, guest(0))
    assert first.status_code == 201
    assert first.through_django
    return first


def same_shape(direct_answer, stack_answer, *, own: tuple = ()) -> None:
    """Both answers alike but the request id, the length and the fields in `own`."""
    assert direct_answer.status == stack_answer.status
    assert direct_answer.headers_of_any_answer() == stack_answer.headers_of_any_answer()
    mine, theirs = json.loads(direct_answer.body), json.loads(stack_answer.body)
    assert mine.keys() == theirs.keys()
    assert {k: v for k, v in mine.items() if k not in own} == {
        k: v for k, v in theirs.items() if k not in own
    }
    assert direct_answer.header("X-Request-ID") != stack_answer.header("X-Request-ID")
    assert direct_answer.header("Content-Length") == str(len(direct_answer.body))


def test_until_the_stack_has_answered_one_every_registration_goes_through_it(event):
    assert register(event.pk, guest(0)).through_django
    assert not register(event.pk, guest(1)).through_django


SEAT_FIELDS = ("id", "name", "email", "registered_at", "ticket", "token")


def test_a_seat_is_answered_as_the_stack_answers_it_with_the_same_rows_and_email(event, learned):
    answer = register(event.pk, guest(1))

    assert not answer.through_django
    same_shape(answer, learned, own=SEAT_FIELDS)
    body = json.loads(answer.body)
    assert body["status"] == "registered"
    assert body["email"] == "guest1@example.com"
    attendee = Attendee.objects.get(pk=body["id"])
    assert (attendee.event_id, attendee.name) == (event.pk, "Guest 1")
    assert attendee.email == body["email"]
    event.refresh_from_db()
    assert event.seats_taken == 2
    assert OutgoingMessage.objects.filter(attendee_id=body["id"], kind="registered").count() == 1
    # The token it gives reads the registration, as the stack's does.
    place = call_wsgi("GET", f"/api/registrations/{body['token']}/")
    assert place.status_code == 200
    assert json.loads(place.body)["ticket"] == body["ticket"]


def statements_of(queries) -> list[str]:
    """Each statement up to its first parenthesis: what was asked, without its values (nor a
    savepoint's name, which counts the savepoints taken)."""
    return [SAVEPOINT_NAME.sub("s", query["sql"].split("(")[0]) for query in queries]


def test_a_direct_registration_sends_what_the_stack_sends_and_nothing_more(event):
    with CaptureQueriesContext(connection) as through_the_stack:
        assert register(event.pk, guest(0)).through_django
    with CaptureQueriesContext(connection) as direct:
        assert not register(event.pk, guest(1)).through_django

    assert statements_of(direct) == statements_of(through_the_stack)
    if connection.vendor == "postgresql":
        [statement] = statements_of(direct)
        assert statement == "SELECT * FROM core_register_attendee"


def test_a_waiting_place_is_answered_as_the_stack_answers_it(event_factory):
    event = event_factory(max_capacity=1)
    register(event.pk, guest(0))
    stack = register(event.pk, guest(1, waitlist=True), HTTP_IDEMPOTENCY_KEY="stack-answers")
    assert stack.through_django

    answer = register(event.pk, guest(2, waitlist=True))

    assert not answer.through_django
    same_shape(answer, stack, own=("id", "name", "email", "registered_at", "token", "position"))
    assert answer.status == "202 Accepted"
    assert (json.loads(stack.body)["position"], json.loads(answer.body)["position"]) == (1, 2)


@pytest.fixture
def refusals(event_factory, in_days):
    """Events each registration below is refused for, by the reason."""
    full = event_factory(max_capacity=1)
    started = event_factory(start_time=in_days(-1))
    cancelled = event_factory(status=EventStatus.CANCELLED)
    return {"full": full, "started": started, "cancelled": cancelled}


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("repeat", 409, "already_registered"),
        ("full", 409, "event_full"),
        ("started", 409, "registration_closed"),
        ("cancelled", 409, "event_cancelled"),
        ("unknown", 404, "not_found"),
    ],
)
def test_a_refusal_is_answered_as_the_stack_answers_it_and_writes_nothing(
    event, learned, refusals, case, status, code
):
    if case == "full":
        register(refusals["full"].pk, guest(5))
    event_id = {"repeat": event.pk, "unknown": 10**12}.get(case) or refusals[case].pk
    body = guest(0)
    rows = Attendee.objects.count()
    counted = registrations_counted(code)
    # An unknown field, which the view ignores, sends the same registration through the stack.
    stack = register(event_id, {**body, "note": "through the stack"})
    assert stack.through_django

    answer = register(event_id, body)

    assert not answer.through_django
    assert answer.status_code == status
    same_shape(answer, stack)
    assert json.loads(answer.body)["code"] == code
    assert Attendee.objects.count() == rows
    assert registrations_counted(code) == counted + 2


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        pytest.param(guest(1), {"HTTP_AUTHORIZATION": "Bearer nothing"}, id="authorization"),
        pytest.param(guest(1), {"HTTP_COOKIE": "sessionid=x"}, id="cookie"),
        pytest.param(guest(1), {"HTTP_IDEMPOTENCY_KEY": "key-1"}, id="idempotency-key"),
        pytest.param(guest(1), {"HTTP_ACCEPT": "text/html"}, id="accept-html"),
        pytest.param(guest(1), {"CONTENT_TYPE": "text/plain"}, id="not-json"),
        pytest.param(guest(1, answers={}), {}, id="answers"),
        pytest.param({"name": "Ada", "email": "not an address"}, {}, id="invalid-email"),
        pytest.param({"name": " ", "email": "ada@example.com"}, {}, id="blank-name"),
        pytest.param([guest(1)], {}, id="not-an-object"),
        pytest.param(b"{", {}, id="not-json-at-all"),
        pytest.param(b'{"name": "A", "email": "a@example.com"}' + b" " * 70_000, {}, id="huge"),
        pytest.param(guest(1), {"HTTP_HOST": "evil.example"}, id="unknown-host"),
    ],
)
def test_any_other_request_is_answered_by_the_stack(event, learned, body, headers, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    answer = register(event.pk, body, **headers)

    assert answer.through_django
    assert answer.status_code in (201, 400, 401, 406, 415)


def test_with_no_size_limit_of_djangos_the_bodys_own_bound_still_holds(event, learned, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = None
    assert not register(event.pk, guest(1)).through_django
    padded = json.dumps(guest(2)).encode() + b" " * 70_000
    assert register(event.pk, padded).through_django


def test_a_query_string_goes_to_the_stack_which_honours_it(event, learned):
    path = f"/api/events/{event.pk}/register/"
    answer = call_wsgi(
        "POST", path, "tz=Asia/Kolkata", body=json.dumps(guest(1)).encode(), CONTENT_TYPE=JSON
    )

    assert answer.through_django
    assert json.loads(answer.body)["registered_at"].endswith("+05:30")


def test_plain_http_goes_to_the_stack_where_https_is_required(event, learned, settings):
    # The stack's SecurityMiddleware read the setting when it was built; its redirect is
    # Django's own, tested there.
    settings.SECURE_SSL_REDIRECT = True
    assert register(event.pk, guest(1)).through_django
    over_https = {"wsgi.url_scheme": "https", "SERVER_PORT": "443"}
    assert register(event.pk, guest(2), environ=over_https).through_django  # learns HTTPS's
    assert not register(event.pk, guest(3), environ=over_https).through_django


def test_a_registration_answered_directly_is_logged_and_counted_as_any(event, learned, caplog):
    seats = registrations_counted("registered")
    with caplog.at_level(logging.INFO, logger="event_management_system.ops.requests"):
        answer = register(event.pk, guest(1), HTTP_X_REQUEST_ID="req-direct-1")

    assert not answer.through_django
    assert answer.header("X-Request-ID") == "req-direct-1"
    assert registrations_counted("registered") == seats + 1
    [line] = [r for r in caplog.records if getattr(r, REQUEST_FIELDS, None)]
    fields = getattr(line, REQUEST_FIELDS)
    assert {k: fields[k] for k in ("method", "route", "view", "status", "client")} == {
        "method": "POST",
        "route": "/api/events/{id}/register/",
        "view": "event-register",
        "status": 201,
        "client": "127.0.0.1",
    }
    assert "guest1" not in caplog.text


def test_what_is_written_while_registering_carries_the_answers_request_id(
    event, learned, monkeypatch
):
    seen = []

    def registering(**fields):
        seen.append(current_request_id())
        return register_attendee(**fields)

    monkeypatch.setattr(direct, "register_attendee", registering)

    answer = register(event.pk, guest(1))

    assert not answer.through_django
    assert seen == [answer.header("X-Request-ID")]


@pytest.fixture
def throttled(settings, redis_cache):
    settings.API_THROTTLE = True
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "register": f"{BUDGET}/min",
        },
    }


@pytest.mark.usefixtures("throttled")
def test_direct_registrations_spend_the_clients_budget_once_each(event_factory):
    event = event_factory(max_capacity=10)
    asking = event_factory(max_capacity=10)
    Question.objects.create(event=asking, label="Diet", kind=QuestionKind.TEXT, required=True)
    answers = [
        register(event.pk, guest(0)),  # through the stack: nothing learned yet
        # Spent here, then handed on for the view to name the missing answers: spent once.
        register(asking.pk, guest(1)),
        register(event.pk, guest(2)),
        register(event.pk, guest(3)),
    ]

    assert [a.status_code for a in answers] == [201, 400, 201, 429]
    assert [a.through_django for a in answers] == [True, True, False, True]
    assert json.loads(answers[1].body)["code"] == "invalid"
    assert json.loads(answers[3].body)["code"] == "throttled"
    assert answers[3].header("Retry-After")


def test_a_database_that_cannot_answer_is_answered_503_as_the_stack_answers_it_at_once(
    event, learned, monkeypatch
):
    tries = []

    def timed_out(**fields):
        tries.append(fields)
        raise OperationalError("canceling statement due to lock timeout")

    monkeypatch.setattr(direct, "register_attendee", timed_out)
    monkeypatch.setattr("api.registrations.views.register_attendee", timed_out)
    stack = register(event.pk, {**guest(1), "note": "through the stack"})
    assert stack.through_django

    answer = register(event.pk, guest(1))

    assert not answer.through_django
    assert len(tries) == 2  # one each: no second wait
    assert answer.status_code == 503
    assert answer.headers_of_any_answer() == stack.headers_of_any_answer()
    assert answer.body == stack.body
    assert json.loads(answer.body)["code"] == "service_unavailable"
    assert answer.header("Retry-After")


def test_any_other_error_goes_to_the_stack_with_the_request_id_already_given(
    event, learned, monkeypatch
):
    ids = []

    def failing(**fields):
        ids.append(current_request_id())
        raise RuntimeError("a bug")

    monkeypatch.setattr(direct, "register_attendee", failing)
    monkeypatch.setattr("api.registrations.views.register_attendee", failing)

    answer = register(event.pk, guest(1))

    assert answer.through_django
    assert answer.status_code == 500
    body = json.loads(answer.body)
    assert body["code"] == "server_error"
    assert len(ids) == 2
    assert ids[0] == ids[1] == body["request_id"] == answer.header("X-Request-ID")


def test_a_request_handed_on_is_timed_from_its_first_attempt(event, learned, monkeypatch, caplog):
    def slow_then_failing(**fields):
        time.sleep(0.25)
        raise RuntimeError("a bug, met after a while")

    monkeypatch.setattr(direct, "register_attendee", slow_then_failing)
    with caplog.at_level(logging.INFO, logger="event_management_system.ops.requests"):
        answer = register(event.pk, guest(1))

    assert answer.through_django
    assert answer.status_code == 201  # the stack's own call registered it
    [line] = [r for r in caplog.records if getattr(r, REQUEST_FIELDS, None)]
    # The client waited for both attempts; the line says so.
    assert getattr(line, REQUEST_FIELDS)["duration_ms"] >= 250


def test_an_error_after_the_place_is_taken_is_answered_500_here_not_registered_twice(
    event, learned, monkeypatch, caplog
):
    def failing(registration):
        raise RuntimeError("a bug drawing the answer")

    monkeypatch.setattr(direct, "NewPlaceSerializer", failing)

    with caplog.at_level(logging.ERROR, logger="django.request"):
        answer = register(event.pk, guest(1))

    assert not answer.through_django
    assert answer.status_code == 500
    body = json.loads(answer.body)
    assert body["code"] == "server_error"
    assert body["request_id"] == answer.header("X-Request-ID")
    assert Attendee.objects.filter(event=event, email="guest1@example.com").count() == 1
    assert "a bug drawing the answer" in caplog.text


@pytest.mark.parametrize("first_over", ["http", "https"])
def test_hsts_is_sent_over_https_only_whichever_came_first(event, settings, first_over):
    settings.SECURE_HSTS_SECONDS = 3600
    django = WSGIHandler()  # its SecurityMiddleware reads the setting as it is built
    over = {
        "http": {"wsgi.url_scheme": "http", "SERVER_PORT": "80"},
        "https": {"wsgi.url_scheme": "https", "SERVER_PORT": "443"},
    }
    second_over = "https" if first_over == "http" else "http"
    answers = [
        register(event.pk, guest(i), environ=over[scheme], django=django)
        for i, scheme in enumerate([first_over, second_over, first_over, second_over])
    ]

    assert [a.through_django for a in answers] == [True, True, False, False]
    sent_hsts = {
        scheme: "Strict-Transport-Security" in dict(answer.headers)
        for scheme, answer in zip([first_over, second_over] * 2, answers, strict=True)
    }
    assert sent_hsts == {"http": False, "https": True}
    for stack, direct_answer in zip(answers[:2], answers[2:], strict=True):
        assert direct_answer.headers_of_any_answer() == stack.headers_of_any_answer()


@pytest.mark.django_db(transaction=True)
def test_racing_through_gunicorn_once_its_workers_answer_directly(event_factory):
    """32 clients race for 5 seats, and 32 spellings of one address for one seat, at a server
    whose workers have each answered plain registrations before (so they answer these
    directly): never overbooked, one address once."""
    warm, seats, one_address = (event_factory(max_capacity=100) for _ in range(3))
    Event.objects.filter(pk=seats.pk).update(max_capacity=5)
    with gunicorn(workers=2) as url:
        for i in range(24):
            assert post_json(f"{url}/api/events/{warm.pk}/register/", guest(100 + i))[0] == 201
        full = race(
            32, lambda i: post_json(f"{url}/api/events/{seats.pk}/register/", guest(200 + i))
        )
        once = race(
            32,
            lambda i: post_json(
                f"{url}/api/events/{one_address.pk}/register/",
                {"name": f"Racer {i}", "email": SPELLINGS[i % len(SPELLINGS)]},
            ),
        )

    assert Counter(status for status, _ in full) == {201: 5, 409: 27}
    assert {body["code"] for status, body in full if status == 409} == {"event_full"}
    assert Counter(status for status, _ in once) == {201: 1, 409: 31}
    assert Attendee.objects.filter(event=seats).count() == 5
    assert Attendee.objects.filter(event=one_address).count() == 1
