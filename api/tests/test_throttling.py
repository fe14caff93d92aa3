"""Request budgets: registrations and token requests per client address, event creation per
user, counted in Redis so that every worker process spends from one budget."""

import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

import pytest
from rest_framework.test import APIClient

from api.throttling import ScopedThrottle
from core.tests.racing import race
from event_management_system.tests.tcp_proxy import FreezableProxy
from testing.bodies import new_event
from testing.servers import free_port, gunicorn, post_json

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

BUDGET = 3
ALICE, BOB = "203.0.113.7", "203.0.113.8"
PROXY = "10.0.0.254"
PASSWORD = "correct horse battery staple"


def registration(number: int) -> dict:
    return {"name": f"Guest {number}", "email": f"guest{number}@example.com"}


@dataclass(frozen=True)
class Scope:
    """A throttled operation: where one request of its budget goes, and what keys the budget."""

    keyed_by: str  # "address" or "user"
    path: str  # "{event}" stands for a fresh event's id
    body: Callable[[int], dict]


REGISTER = Scope("address", "/api/events/{event}/register/", registration)
SCOPES = [
    pytest.param(REGISTER, id="register"),
    pytest.param(Scope("user", "/api/events/", new_event), id="create"),
    pytest.param(
        Scope(
            "address",
            "/api/auth/token/",
            lambda number: {"username": "alice", "password": PASSWORD},
        ),
        id="token",
    ),
]


class Clock:
    """The throttles' clock, standing 20 seconds into a minute until a test moves it."""

    def __init__(self):
        self.now = 60 * 31_666_667 + 20.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(ScopedThrottle, "timer", staticmethod(clock))
    return clock


@pytest.fixture
def throttled(settings, redis_cache, clock):
    """Throttling on, every scope's budget BUDGET a minute, counted in Redis."""
    settings.API_THROTTLE = True
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            name: f"{BUDGET}/min"
            for name in ("register", "token", "create", "cancel", "organise", "feed")
        },
    }


@pytest.fixture
def users(django_user_model):
    return {
        name: django_user_model.objects.create_user(name, f"{name}@example.com", PASSWORD)
        for name in ("alice", "bob")
    }


@pytest.fixture
def spend(event_factory, users):
    """`spend(scope, user=..., address=..., **headers)`: one request against the scope; each
    registration is for a fresh event, each body new."""
    numbers = itertools.count()

    def send(scope: Scope, *, user: str, address: str, **headers):
        client = APIClient(REMOTE_ADDR=address)
        client.force_authenticate(users[user])
        url = scope.path.format(event=event_factory().pk)
        return client.post(url, scope.body(next(numbers)), format="json", **headers)

    return send


@pytest.mark.usefixtures("throttled")
@pytest.mark.parametrize("scope", SCOPES)
def test_over_its_budget_a_client_is_answered_429_with_retry_after(scope, spend):
    for _ in range(BUDGET):
        assert spend(scope, user="alice", address=ALICE).status_code == 201

    response = spend(scope, user="alice", address=ALICE)

    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "throttled"
    # The window slides: the budget comes back once the requests' 6 s bucket (a tenth of the
    # window, 18 to 24 s into the minute) is a minute behind.
    assert body["detail"] == "Request was throttled. Expected available in 64 seconds."
    assert response["Retry-After"] == "64"


@pytest.mark.usefixtures("throttled")
def test_the_budget_comes_back_when_retry_after_has_passed(spend, clock):
    for _ in range(BUDGET):
        spend(REGISTER, user="alice", address=ALICE)
    retry_after = int(spend(REGISTER, user="alice", address=ALICE)["Retry-After"])

    clock.now += retry_after - 1
    assert spend(REGISTER, user="alice", address=ALICE).status_code == 429
    clock.now += 1
    assert [spend(REGISTER, user="alice", address=ALICE).status_code for _ in range(BUDGET)] == [
        201
    ] * BUDGET


@pytest.mark.usefixtures("throttled")
@pytest.mark.parametrize("scope", SCOPES)
def test_the_budget_belongs_to_the_address_or_the_user(scope, spend):
    for _ in range(BUDGET):
        spend(scope, user="alice", address=ALICE)

    same_address_other_user = spend(scope, user="bob", address=ALICE).status_code
    same_user_other_address = spend(scope, user="alice", address=BOB).status_code

    if scope.keyed_by == "address":
        assert (same_address_other_user, same_user_other_address) == (429, 201)
    else:
        assert (same_address_other_user, same_user_other_address) == (201, 429)


@pytest.mark.usefixtures("throttled")
def test_reads_are_never_throttled(api_client, event_factory, spend):
    event = event_factory()
    for _ in range(BUDGET + 1):
        spend(REGISTER, user="alice", address=ALICE)

    for path in ("/api/events/", f"/api/events/{event.pk}/", f"/api/events/{event.pk}/attendees/"):
        for _ in range(BUDGET + 1):
            assert api_client.get(path, REMOTE_ADDR=ALICE).status_code == 200


@pytest.mark.usefixtures("throttled")
def test_with_throttling_off_every_request_goes_through(settings, spend):
    settings.API_THROTTLE = False

    statuses = {spend(REGISTER, user="alice", address=ALICE).status_code for _ in range(8)}

    assert statuses == {201}


@pytest.mark.usefixtures("throttled")
def test_a_made_up_x_forwarded_for_does_not_buy_a_fresh_budget(spend):
    for number in range(BUDGET):
        spend(REGISTER, user="alice", address=ALICE, HTTP_X_FORWARDED_FOR=f"198.51.100.{number}")

    response = spend(REGISTER, user="alice", address=ALICE, HTTP_X_FORWARDED_FOR="198.51.100.99")

    assert response.status_code == 429


@pytest.mark.usefixtures("throttled")
@pytest.mark.parametrize(
    ("proxies", "forwarded_for"),
    [(1, "{client}"), (2, "{client}, 10.0.0.1")],
    ids=["one proxy", "two proxies"],
)
def test_behind_trusted_proxies_the_address_comes_from_x_forwarded_for(
    settings, spend, proxies, forwarded_for
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": proxies}

    def via_proxy(client: str, spoofed: str = ""):
        # The proxies append what they saw; anything before that is the client's own text.
        header = spoofed + forwarded_for.format(client=client)
        return spend(REGISTER, user="alice", address=PROXY, HTTP_X_FORWARDED_FOR=header)

    for _ in range(BUDGET):
        assert via_proxy(ALICE).status_code == 201

    assert via_proxy(ALICE).status_code == 429
    assert via_proxy(ALICE, spoofed="198.51.100.1, ").status_code == 429
    assert via_proxy(BOB).status_code == 201


@pytest.mark.usefixtures("throttled")
def test_behind_a_trusted_proxy_entries_that_are_not_addresses_share_the_proxy_budget(
    settings, spend
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    statuses = [
        spend(REGISTER, user="alice", address=PROXY, HTTP_X_FORWARDED_FOR=f"made-up-{n}")
        for n in range(BUDGET + 1)
    ]

    assert [response.status_code for response in statuses] == [201] * BUDGET + [429]


@pytest.mark.usefixtures("throttled")
def test_an_unreachable_cache_lets_requests_through_and_is_logged(settings, spend, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }

    response = spend(REGISTER, user="alice", address=ALICE)

    assert response.status_code == 201
    assert "request budgets cannot be counted" in caplog.text


def test_the_schema_documents_429_on_the_throttled_operations(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    throttled = {
        (path, method)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if "429" in operation["responses"]
    }

    assert throttled == {
        ("/api/events/", "post"),
        ("/api/events/{id}/register/", "post"),
        ("/api/auth/token/", "post"),
        ("/api/events/{id}/", "patch"),
        ("/api/events/{id}/cancel/", "post"),
        ("/api/events/{id}/attendees/{attendee_id}/", "delete"),
        ("/api/registrations/{token}/", "delete"),
        ("/api/events.ics", "get"),
        ("/api/events/{event_id}/questions/", "post"),
        ("/api/events/{event_id}/questions/{id}/", "patch"),
        ("/api/events/{event_id}/questions/{id}/", "delete"),
        ("/api/events/{id}/pending/{attendee_id}/approve/", "post"),
        ("/api/events/{id}/pending/{attendee_id}/decline/", "post"),
        ("/api/webhooks/", "post"),
        ("/api/webhooks/{id}/", "patch"),
        ("/api/webhooks/{id}/", "delete"),
        ("/api/webhooks/{id}/rotate-secret/", "post"),
        ("/api/webhooks/{id}/ping/", "post"),
        ("/api/webhooks/{id}/deliveries/{delivery_id}/redeliver/", "post"),
    }
    for path, method in throttled:
        response = schema["paths"][path][method]["responses"]["429"]
        assert "Retry-After" in response["headers"]
        examples = response["content"]["application/json"]["examples"].values()
        assert {example["value"]["code"] for example in examples} == {"throttled"}


# Registrations from one address at a server with two worker processes: a burst at once, then
# one at a time on fresh connections until each worker has answered more than a budget's worth.
RACERS = 24
MORE_AT_MOST = 400
WORKER_BUDGET = 6


def register_at_two_workers(event_factory, tmp_path, **env: str) -> list[Counter]:
    """Each worker's answers to the registrations, by status, from gunicorn's access log."""
    event = event_factory(max_capacity=RACERS + MORE_AT_MOST)
    access_log = tmp_path / "access.log"
    server_env = {
        "DJANGO_API_THROTTLE": "true",
        # A day's budget: the test never straddles the end of its window.
        "DJANGO_THROTTLE_REGISTER": f"{WORKER_BUDGET}/day",
        # Synchronous workers take one connection at a time, so both workers get a share of the
        # requests; each access log line names the worker's process id and what it answered.
        "GUNICORN_CMD_ARGS": (
            f"--worker-class sync --access-logfile {access_log} "
            "--access-logformat %(p)s:%(m)s:%(s)s"
        ),
        **env,
    }

    def answers() -> list[Counter]:
        lines = access_log.read_text().split() if access_log.exists() else []
        by_worker: dict[str, Counter] = {}
        for worker, method, status in (line.split(":") for line in lines):
            if method == "POST":
                by_worker.setdefault(worker, Counter())[int(status)] += 1
        return list(by_worker.values())

    def each_worker_answered_more_than_a_budget() -> bool:
        counts = answers()
        return len(counts) == 2 and all(c.total() > WORKER_BUDGET for c in counts)

    with gunicorn(workers=2, env=server_env) as url:
        register = f"{url}/api/events/{event.pk}/register/"
        race(RACERS, lambda i: post_json(register, {"name": "R", "email": f"r{i}@example.com"}))
        for i in range(MORE_AT_MOST):
            if each_worker_answered_more_than_a_budget():
                break
            post_json(register, {"name": "S", "email": f"s{i}@example.com"})
    assert each_worker_answered_more_than_a_budget(), answers()
    return answers()


@pytest.mark.django_db(transaction=True)
def test_two_gunicorn_workers_spend_one_budget_in_redis(
    event_factory, tmp_path, redis_url, redis_cache
):
    by_worker = register_at_two_workers(
        event_factory, tmp_path, REDIS_URL=redis_url, DJANGO_CACHE_KEY_PREFIX=redis_cache
    )

    total = sum(by_worker, Counter())
    assert set(total) == {201, 429}
    assert total[201] == WORKER_BUDGET


@pytest.mark.race_control
@pytest.mark.django_db(transaction=True)
def test_control_without_redis_each_worker_counts_its_own_budget(event_factory, tmp_path):
    """Documents why the count lives in Redis: in local memory, each of the two workers lets
    a whole budget through, so one address gets two budgets' worth."""
    by_worker = register_at_two_workers(event_factory, tmp_path, REDIS_URL="")

    assert [answers[201] for answers in by_worker] == [WORKER_BUDGET, WORKER_BUDGET]


@pytest.mark.usefixtures("throttled")
def test_a_budget_spent_at_the_end_of_a_minute_is_not_given_again_at_the_start_of_the_next(
    spend, clock
):
    clock.now = 60 * 31_666_667 + 59.5
    assert [spend(REGISTER, user="alice", address=ALICE).status_code for _ in range(BUDGET)] == [
        201
    ] * BUDGET

    clock.now += 1  # half a second into the next minute
    response = spend(REGISTER, user="alice", address=ALICE)

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) >= 59


@pytest.mark.usefixtures("throttled")
def test_no_span_of_a_minute_lets_more_than_one_budget_through(spend, clock):
    start = clock.now
    accepted = []
    for step in range(150):  # one request every 1.4 s for three and a half minutes
        clock.now = start + step * 1.4
        if spend(REGISTER, user="alice", address=ALICE).status_code == 201:
            accepted.append(clock.now)

    busiest_minute = max(sum(1 for t in accepted if s <= t < s + 60) for s in accepted)
    assert busiest_minute == BUDGET
    # The budget comes back as the window slides: a budget about every 66 s.
    assert len(accepted) >= 3 * BUDGET


@pytest.fixture
def owner(users, organiser_factory):
    return organiser_factory(username="owner")


def organise(owner, event_factory, attendee_factory, in_days) -> Callable[[str], object]:
    """`organise(operation)`: one organiser's change to a fresh event of theirs, over HTTP."""
    client = APIClient(REMOTE_ADDR=ALICE)
    client.force_authenticate(owner)

    def send(operation: str):
        event = event_factory(owner=owner, start_time=in_days(10))
        if operation == "change":
            return client.patch(f"/api/events/{event.pk}/", {"name": "New"}, format="json")
        if operation == "cancel":
            return client.post(f"/api/events/{event.pk}/cancel/")
        attendee = attendee_factory(event=event)
        return client.delete(f"/api/events/{event.pk}/attendees/{attendee.pk}/")

    return send


@pytest.mark.usefixtures("throttled")
@pytest.mark.parametrize("operation", ["change", "cancel", "remove attendee"])
def test_an_organisers_changes_spend_a_budget_per_user(
    operation, owner, event_factory, attendee_factory, in_days
):
    send = organise(owner, event_factory, attendee_factory, in_days)
    statuses = [send(operation).status_code for _ in range(BUDGET)]

    response = send(operation)

    assert set(statuses) <= {200, 204}
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


@pytest.fixture
def tokens(event_factory):
    """`tokens(n)`: n fresh registration tokens, registered through the service."""
    from core.services import register_attendee

    def make(count: int) -> list[str]:
        event = event_factory(max_capacity=count)
        return [
            register_attendee(event_id=event.pk, name="V", email=f"v{n}@example.com").token
            for n in range(count)
        ]

    return make


@pytest.mark.usefixtures("throttled")
def test_cancellations_by_token_spend_a_budget_per_address(tokens):
    client = APIClient(REMOTE_ADDR=ALICE)
    *spent, over = tokens(BUDGET + 1)
    assert [client.delete(f"/api/registrations/{t}/").status_code for t in spent] == [204] * BUDGET

    response = client.delete(f"/api/registrations/{over}/")

    assert response.status_code == 429
    assert response.json() == {
        "detail": f"Request was throttled. Expected available in {response['Retry-After']} "
        "seconds.",
        "code": "throttled",
    }
    assert APIClient(REMOTE_ADDR=BOB).delete(f"/api/registrations/{over}/").status_code == 204


@pytest.mark.usefixtures("throttled")
def test_the_registration_pages_cancel_button_spends_the_same_budget(tokens, client):
    *spent, over = tokens(BUDGET + 1)
    api = APIClient(REMOTE_ADDR=ALICE)
    api.delete(f"/api/registrations/{spent[0]}/")
    for token in spent[1:]:
        assert client.post(f"/registrations/{token}/", REMOTE_ADDR=ALICE).status_code == 200

    response = client.post(f"/registrations/{over}/", REMOTE_ADDR=ALICE)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert b"Too many requests" in response.content
    # Reading the page spends nothing, and the registration is still there.
    assert client.get(f"/registrations/{over}/", REMOTE_ADDR=ALICE).status_code == 200


@pytest.mark.usefixtures("throttled")
def test_a_frozen_redis_costs_one_request_its_timeout_then_requests_go_through_uncounted(
    settings, redis_url, redis_cache, spend, caplog
):
    upstream = urlparse(redis_url)
    settings.THROTTLE_CACHE_RETRY_SECONDS = 2
    with FreezableProxy((upstream.hostname, upstream.port or 6379)) as proxy:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{proxy.port}{upstream.path}",
                "KEY_PREFIX": redis_cache,
                # As settings.py has it with REDIS_URL.
                "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
            }
        }
        assert spend(REGISTER, user="alice", address=ALICE).status_code == 201
        proxy.freeze(seconds=60)

        timed = []
        for _ in range(2 * BUDGET):
            started = time.monotonic()
            status = spend(REGISTER, user="alice", address=ALICE).status_code
            timed.append((status, time.monotonic() - started))

        assert [status for status, _ in timed] == [201] * 2 * BUDGET
        assert timed[0][1] >= 0.9  # the request that found Redis frozen waited its timeout
        assert max(seconds for _, seconds in timed[1:]) < 0.5  # the others did not ask it
        assert caplog.text.count("request budgets cannot be counted") == 1

        proxy.thaw()
        time.sleep(2.1)
        # Counted again once the pause is over: one request before the freeze, two now.
        statuses = [spend(REGISTER, user="alice", address=ALICE).status_code for _ in range(3)]
        assert statuses == [201, 201, 429]
