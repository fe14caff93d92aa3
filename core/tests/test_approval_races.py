"""Approvals race for real, as registrations do: threads, and gunicorn worker processes over
HTTP, against the test database (SQLite or PostgreSQL). Twenty approvals for ten seats seat ten,
and the other ten wait."""

import threading
from collections import Counter

import pytest
from django.db import IntegrityError

from api.tokens import issue_token
from core.exceptions import EventFull
from core.models import Attendee, AttendeeStatus, Event
from core.selectors import Place
from core.services import approve_registration, domain_error_for
from core.tests.racing import race
from testing.servers import send_json

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]

REQUESTS = 20
SEATS = 10


@pytest.fixture
def pending(event_factory, attendee_factory, organiser_factory):
    """An event of SEATS seats with REQUESTS pending requests: the event and their ids."""
    event = event_factory(max_capacity=SEATS, requires_approval=True, owner=organiser_factory())
    ids = [attendee_factory(event=event, status=AttendeeStatus.PENDING).pk for _ in range(REQUESTS)]
    return event, ids


def assert_ten_seated_ten_waiting(event: Event) -> None:
    event.refresh_from_db()
    assert (event.seats_taken, event.waitlist_taken) == (SEATS, REQUESTS - SEATS)
    statuses = Counter(Attendee.objects.filter(event=event).values_list("status", flat=True))
    assert statuses == {"registered": SEATS, "waitlisted": REQUESTS - SEATS}


def test_threads_approving_twenty_requests_seat_exactly_ten(pending):
    event, ids = pending

    results = race(REQUESTS, lambda i: approve_registration(event_id=event.pk, attendee_id=ids[i]))

    assert all(isinstance(result, Place) for result in results), results
    assert Counter(result.attendee.status for result in results) == {
        "registered": SEATS,
        "waitlisted": REQUESTS - SEATS,
    }
    # The waiting places are numbered 1..10, each once.
    positions = sorted(result.position for result in results if result.position is not None)
    assert positions == list(range(1, REQUESTS - SEATS + 1))
    assert_ten_seated_ten_waiting(event)


def test_gunicorn_workers_approving_twenty_requests_seat_exactly_ten(gunicorn_server, pending):
    event, ids = pending
    token = issue_token(user=event.owner).token
    url = f"{gunicorn_server}/api/events/{event.pk}/pending/{{}}/approve/"

    results = race(
        REQUESTS,
        lambda i: send_json(
            "POST", url.format(ids[i]), headers={"Authorization": f"Bearer {token}"}
        ),
    )

    assert Counter((status, body["status"]) for status, body in results) == {
        (200, "registered"): SEATS,
        (200, "waitlisted"): REQUESTS - SEATS,
    }
    assert_ten_seated_ten_waiting(event)


@pytest.mark.race_control
def test_control_approving_without_the_lock_is_fooled(pending):
    """Documents the danger the event's lock removes: read the free seats, then move the request
    to a seat, with no lock in between. Every thread sees a seat free; only the counters' check
    constraint keeps the event from being overbooked, refusing the rest."""
    event, ids = pending
    everyone_read = threading.Barrier(REQUESTS)

    def naive_approve(i: int) -> str:
        current = Event.objects.get(pk=event.pk)
        seat_free = current.seats_taken < current.max_capacity
        everyone_read.wait(timeout=30)
        if not seat_free:
            return "saw the event full"
        try:
            Attendee.objects.filter(pk=ids[i]).update(status=AttendeeStatus.REGISTERED)
        except IntegrityError as error:
            return (
                "refused by the database"
                if isinstance(domain_error_for(error), EventFull)
                else repr(error)
            )
        return "seated"

    results = Counter(race(REQUESTS, naive_approve))

    assert results == {"seated": SEATS, "refused by the database": REQUESTS - SEATS}
    event.refresh_from_db()
    assert event.seats_taken == SEATS
