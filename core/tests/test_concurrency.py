"""Races run for real: threads, and gunicorn worker processes, against the test database."""

import threading
from collections import Counter

import pytest
from django.db import IntegrityError

from core.exceptions import AlreadyRegistered, CapacityBelowAttendance, EventFull
from core.models import Attendee, Event
from core.services import Registration, domain_error_for, register_attendee, update_event
from core.tests.racing import race
from testing.servers import post_json

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]

THREADS = 32
SPELLINGS = ["dup@example.com", "DUP@example.com", "Dup@Example.Com", " dup@EXAMPLE.com "]


def outcome(result: object) -> str:
    if isinstance(result, Registration):
        return "registered"
    if isinstance(result, Event):
        return "capacity_changed"
    if isinstance(result, EventFull | AlreadyRegistered | CapacityBelowAttendance):
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


def test_lowering_capacity_while_others_register_never_overbooks(event_factory, attendee_factory):
    event = event_factory(max_capacity=10)
    for _ in range(4):
        attendee_factory(event=event)
    fields = ["name", "location", "start_time", "end_time"]
    lower_to_five = {name: getattr(event, name) for name in fields} | {"max_capacity": 5}

    def task(i: int) -> object:
        if i == 0:
            return update_event(event_id=event.pk, **lower_to_five)
        return register_attendee(event_id=event.pk, name=f"Racer {i}", email=f"r{i}@example.com")

    outcomes = Counter(map(outcome, race(THREADS, task)))

    event.refresh_from_db()
    attendees = Attendee.objects.filter(event=event).count()
    assert event.seats_taken == attendees == 4 + outcomes["registered"]
    if outcomes["capacity_changed"]:
        # Lowered before a second racer got in: one seat was left, and it went.
        assert (event.max_capacity, outcomes["registered"]) == (5, 1)
    else:
        assert outcomes["capacity_below_attendance"] == 1
        assert (event.max_capacity, outcomes["registered"]) == (10, 6)
    assert outcomes["event_full"] == THREADS - 1 - outcomes["registered"]


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
