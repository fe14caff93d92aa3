"""Concurrent retries with one Idempotency-Key, for real: threads, and gunicorn worker
processes, against the test database. One effect, every other answer its replay or 409."""

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest
from django.db import connection
from rest_framework.test import APIClient

from api.registrations import views
from core.models import Attendee
from core.tests.racing import race
from testing.servers import gunicorn

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]

THREADS = 16
ADA = {"name": "Ada Lovelace", "email": "ada@example.com"}
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's lock waits and lock_timeout"
)


def outcome(status: int, replayed: bool, body: dict) -> str:
    if status == 201:
        return "201 replayed" if replayed else "201"
    return f"{status} {body.get('code')}"


def register_with_key(event_id: int, key: str = "one-key", body: dict = ADA):
    response = APIClient().post(
        f"/api/events/{event_id}/register/", body, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    return response


def test_threads_retrying_with_one_key_register_once(event_factory):
    event = event_factory()

    responses = race(THREADS, lambda i: register_with_key(event.pk))

    outcomes = Counter(
        outcome(r.status_code, r.has_header("Idempotent-Replayed"), r.json()) for r in responses
    )
    assert outcomes["201"] == 1
    assert outcomes["201"] + outcomes["201 replayed"] + outcomes["409 idempotency_in_progress"] == (
        THREADS
    ), outcomes
    first = next(r for r in responses if not r.has_header("Idempotent-Replayed"))
    assert {r.content for r in responses if r.status_code == 201} == {first.content}
    assert Attendee.objects.filter(event=event).count() == 1


def post_with_key(url: str, body: dict, key: str) -> tuple[int, bool, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            replayed = response.headers.get("Idempotent-Replayed") == "true"
            return response.status, replayed, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Idempotent-Replayed") == "true", json.load(error)


def test_gunicorn_workers_given_one_key_register_once(transactional_db, event_factory):
    event = event_factory()

    with gunicorn(workers=4) as url:
        results = race(
            THREADS,
            lambda i: post_with_key(f"{url}/api/events/{event.pk}/register/", ADA, "one-key"),
        )

    outcomes = Counter(outcome(*result) for result in results)
    assert outcomes["201"] == 1
    assert outcomes["201"] + outcomes["201 replayed"] + outcomes["409 idempotency_in_progress"] == (
        THREADS
    ), outcomes
    assert len({json.dumps(body) for status, _, body in results if status == 201}) == 1
    assert Attendee.objects.filter(event=event).count() == 1


class HeldRegistration:
    """Registrations that wait inside their transaction, key claimed, until released."""

    def __init__(self, monkeypatch, *, fail: bool = False):
        self.entered = threading.Event()
        self.release = threading.Event()
        self.real = real_register = views.register_attendee

        def held(**kwargs):
            attendee = real_register(**kwargs)
            self.entered.set()
            assert self.release.wait(timeout=30)
            if fail:
                raise RuntimeError("the first attempt fails after registering")
            return attendee

        monkeypatch.setattr(views, "register_attendee", held)


def start(target) -> tuple[threading.Thread, list]:
    result: list = []

    def run():
        try:
            result.append(target())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def wait_until_a_request_waits_on_a_lock() -> None:
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("no request ever waited for the key")


@postgresql_only
@pytest.mark.parametrize("first_fails", [False, True], ids=["first commits", "first fails"])
def test_a_twin_waits_for_the_first_and_replays_it_or_takes_over(
    event_factory, monkeypatch, first_fails
):
    event = event_factory()
    held = HeldRegistration(monkeypatch, fail=first_fails)
    first_thread, first = start(lambda: register_with_key(event.pk))
    assert held.entered.wait(timeout=30)
    twin_thread, twin = start(lambda: register_with_key(event.pk))

    wait_until_a_request_waits_on_a_lock()
    # The twin, if it takes over, registers without being held.
    monkeypatch.setattr(views, "register_attendee", held.real)
    held.release.set()
    first_thread.join(timeout=30)
    twin_thread.join(timeout=30)

    (first,), (twin,) = first, twin
    if first_fails:
        assert first.status_code == 500
        assert (twin.status_code, twin.has_header("Idempotent-Replayed")) == (201, False)
    else:
        assert first.status_code == 201
        assert (twin.status_code, twin["Idempotent-Replayed"]) == (201, "true")
        assert twin.content == first.content
    assert Attendee.objects.filter(event=event).count() == 1


@postgresql_only
def test_a_twin_that_waits_too_long_answers_409_with_retry_after(event_factory, monkeypatch):
    event = event_factory()
    held = HeldRegistration(monkeypatch)
    first_thread, first = start(lambda: register_with_key(event.pk))
    assert held.entered.wait(timeout=30)
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'")

    try:
        twin = register_with_key(event.pk)
    finally:
        held.release.set()
        first_thread.join(timeout=30)
    retry = register_with_key(event.pk)

    assert twin.status_code == 409
    assert twin.json()["code"] == "idempotency_in_progress"
    assert twin["Retry-After"] == "1"
    assert first[0].status_code == 201
    assert (retry.status_code, retry["Idempotent-Replayed"]) == (201, "true")
    assert Attendee.objects.filter(event=event).count() == 1
