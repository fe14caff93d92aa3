"""Races run for real: threads, and gunicorn worker processes, against the test database."""

import json
import threading
import urllib.error
import urllib.request
from collections import Counter

import pytest
from django.db import IntegrityError

from conftest import race
from core.exceptions import AlreadyRegistered, EventFull
from core.models import Attendee, Event
from core.services import domain_error_for, register_attendee

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]

THREADS = 32
SPELLINGS = ["dup@example.com", "DUP@example.com", "Dup@Example.Com", " dup@EXAMPLE.com "]


def outcome(result: object) -> str:
    if isinstance(result, Attendee):
        return "registered"
    if isinstance(result, EventFull | AlreadyRegistered):
        return result.code
    return repr(result)


def test_threads_never_overbook(event_factory):
    event = event_factory(max_capacity=5)

    results = race(
        THREADS,
        lambda i: register_attendee(
            event_id=event.pk, name=f"Racer {i}", email=f"r{i}@example.com"
        ),
    )

    assert Counter(map(outcome, results)) == {"registered": 5, "event_full": THREADS - 5}
    event.refresh_from_db()
    assert event.seats_taken == 5
    assert Attendee.objects.filter(event=event).count() == 5


def test_threads_register_one_email_once_whatever_its_case(event_factory):
    event = event_factory(max_capacity=100)
    results = race(
        THREADS,
        lambda i: register_attendee(
            event_id=event.pk, name=f"Racer {i}", email=SPELLINGS[i % len(SPELLINGS)]
        ),
    )

    assert Counter(map(outcome, results)) == {
        "registered": 1,
        "already_registered": THREADS - 1,
    }
    event.refresh_from_db()
    assert event.seats_taken == 1
    assert Attendee.objects.filter(event=event).count() == 1


@pytest.mark.race_control
def test_control_check_then_insert_without_the_lock_is_fooled(event_factory):
    """Documents the danger the lock removes: check, then insert, with no lock in between.

    Every thread sees a free seat, so without the database's own constraint the event would
    be overbooked. If the check ever stops being fooled, the races above prove nothing.
    """
    event = event_factory(max_capacity=5)
    everyone_checked = threading.Barrier(THREADS)

    def naive_register(i: int) -> str:
        seats_free = Attendee.objects.filter(event=event).count() < event.max_capacity
        everyone_checked.wait(timeout=30)
        if not seats_free:
            return "saw the event full"
        try:
            Attendee.objects.create(event=event, name=f"Racer {i}", email=f"r{i}@example.com")
        except IntegrityError as error:
            return "refused by the database" if domain_error_for(error) else repr(error)
        return "registered"

    results = Counter(race(THREADS, naive_register))

    assert results == {"registered": 5, "refused by the database": THREADS - 5}
    assert Attendee.objects.filter(event=event).count() == 5


def post_json(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def http_outcome(result: tuple[int, dict]) -> str:
    status, body = result
    return "registered" if status == 201 else f"{status} {body.get('code')}"


def test_gunicorn_workers_never_overbook_over_http(gunicorn_server, event_factory):
    event = event_factory(max_capacity=5)
    url = f"{gunicorn_server}/api/events/{event.pk}/register/"

    results = race(
        THREADS, lambda i: post_json(url, {"name": f"Racer {i}", "email": f"r{i}@example.com"})
    )

    assert Counter(map(http_outcome, results)) == {
        "registered": 5,
        "409 event_full": THREADS - 5,
    }
    assert Event.objects.get(pk=event.pk).seats_taken == 5
    assert Attendee.objects.filter(event=event).count() == 5


def test_gunicorn_workers_register_one_email_once_over_http(gunicorn_server, event_factory):
    event = event_factory(max_capacity=100)
    url = f"{gunicorn_server}/api/events/{event.pk}/register/"

    results = race(
        THREADS,
        lambda i: post_json(url, {"name": f"Racer {i}", "email": SPELLINGS[i % len(SPELLINGS)]}),
    )

    assert Counter(map(http_outcome, results)) == {
        "registered": 1,
        "409 already_registered": THREADS - 1,
    }
    assert Attendee.objects.filter(event=event).count() == 1
