"""Registration tokens, the waiting list, promotion and cancelled events, service by service."""

import hashlib
import re

import pytest
from django.db import connection

from core.exceptions import (
    AlreadyRegistered,
    AttendeeNotFound,
    EventCancelled,
    EventFull,
    EventNotFound,
    EventStarted,
    RegistrationClosed,
    RegistrationNotFound,
)
from core.models import Attendee, Event
from core.selectors import place_by_token, registration_refusal, upcoming_events
from core.services import (
    cancel_event,
    cancel_registration_by_token,
    register_attendee,
    remove_attendee,
    update_event,
)

pytestmark = pytest.mark.django_db


def register(event, who: str, **kwargs):
    return register_attendee(event_id=event.pk, name=who, email=f"{who}@example.com", **kwargs)


def counters(event) -> tuple[int, int]:
    return Event.objects.values_list("seats_taken", "waitlist_taken").get(pk=event.pk)


def statuses(event) -> list[tuple[str, str]]:
    return list(Attendee.objects.filter(event=event).order_by("id").values_list("name", "status"))


@pytest.fixture
def full_with_queue(event_factory):
    """An event of 2 seats, both taken (ada, bob), with cat and dan waiting in that order."""
    event = event_factory(max_capacity=2)
    places = {who: register(event, who, waitlist=True) for who in ("ada", "bob", "cat", "dan")}
    return event, places


def test_a_registration_is_answered_with_a_token_of_which_only_the_hash_is_kept(event_factory):
    event = event_factory()

    registration = register(event, "ada")

    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", registration.token)  # 256 bits, URL-safe
    stored = Attendee.objects.get(pk=registration.attendee.pk)
    assert stored.token_hash == hashlib.sha256(registration.token.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM core_attendee")
        row = cursor.fetchone()
    assert registration.token not in [str(value) for value in row]
    assert register(event, "bob").token != registration.token


def test_a_row_written_with_event_name_and_email_alone_is_a_seat(event_factory):
    event = event_factory(max_capacity=2)

    Attendee.objects.create(event=event, name="Loaded", email="loaded@example.com")

    assert statuses(event) == [("Loaded", "registered")]
    assert Attendee.objects.get().token_hash is None
    assert counters(event) == (1, 0)


def test_a_full_event_puts_a_newcomer_who_asks_on_the_waiting_list(full_with_queue):
    event, places = full_with_queue

    assert [places[who].position for who in ("ada", "bob", "cat", "dan")] == [None, None, 1, 2]
    assert [places[who].waitlisted for who in ("ada", "cat")] == [False, True]
    assert statuses(event) == [
        ("ada", "registered"),
        ("bob", "registered"),
        ("cat", "waitlisted"),
        ("dan", "waitlisted"),
    ]
    assert counters(event) == (2, 2)


def test_a_full_event_refuses_a_newcomer_who_does_not_ask_to_wait(full_with_queue):
    event, _ = full_with_queue
    with pytest.raises(EventFull):
        register(event, "eve")
    assert counters(event) == (2, 2)


def test_one_email_holds_one_place_seat_or_waiting(full_with_queue):
    event, _ = full_with_queue
    for who in ("ADA", "Cat"):
        with pytest.raises(AlreadyRegistered):
            register_attendee(
                event_id=event.pk, name=who, email=f"{who}@Example.com", waitlist=True
            )
    assert counters(event) == (2, 2)


def test_while_anyone_waits_a_free_seat_is_never_a_newcomers(full_with_queue):
    event, _ = full_with_queue
    # A seat freed outside the services, which would have promoted cat at once.
    Attendee.objects.filter(name="ada").delete()
    assert counters(event) == (1, 2)

    with pytest.raises(EventFull):
        register(event, "eve")
    late = register(event, "fay", waitlist=True)

    assert late.position == 3
    assert counters(event) == (1, 3)


def test_a_token_reads_its_place_and_position(full_with_queue):
    _, places = full_with_queue

    seat = place_by_token(token=places["bob"].token)
    waiting = place_by_token(token=places["dan"].token)

    assert (seat.attendee.name, seat.attendee.status, seat.position) == ("bob", "registered", None)
    assert (waiting.attendee.name, waiting.attendee.status, waiting.position) == (
        "dan",
        "waitlisted",
        2,
    )
    assert place_by_token(token="not-a-token") is None


def test_cancelling_a_seat_by_token_promotes_the_longest_waiting(full_with_queue):
    event, places = full_with_queue

    cancel_registration_by_token(token=places["ada"].token)

    assert statuses(event) == [("bob", "registered"), ("cat", "registered"), ("dan", "waitlisted")]
    assert counters(event) == (2, 1)
    assert place_by_token(token=places["dan"].token).position == 1
    assert place_by_token(token=places["ada"].token) is None
    with pytest.raises(RegistrationNotFound):
        cancel_registration_by_token(token=places["ada"].token)


def test_giving_up_a_waiting_place_moves_those_behind_up(full_with_queue):
    event, places = full_with_queue

    cancel_registration_by_token(token=places["cat"].token)

    assert statuses(event) == [("ada", "registered"), ("bob", "registered"), ("dan", "waitlisted")]
    assert counters(event) == (2, 1)
    assert place_by_token(token=places["dan"].token).position == 1


def test_an_organiser_removing_an_attendee_promotes_the_longest_waiting(full_with_queue):
    event, places = full_with_queue

    remove_attendee(event_id=event.pk, attendee_id=places["bob"].attendee.pk)

    assert statuses(event) == [("ada", "registered"), ("cat", "registered"), ("dan", "waitlisted")]
    with pytest.raises(AttendeeNotFound):
        remove_attendee(event_id=event.pk, attendee_id=places["bob"].attendee.pk)


def test_removing_names_the_event_and_one_of_its_attendees(full_with_queue, event_factory):
    event, places = full_with_queue
    with pytest.raises(AttendeeNotFound):
        remove_attendee(event_id=event_factory().pk, attendee_id=places["ada"].attendee.pk)
    with pytest.raises(EventNotFound):
        remove_attendee(event_id=987654, attendee_id=places["ada"].attendee.pk)
    assert counters(event) == (2, 2)


def test_a_raised_capacity_promotes_first_come_first_served(full_with_queue):
    event, places = full_with_queue
    register(event, "eve", waitlist=True)

    changed = update_event(event_id=event.pk, max_capacity=4)

    assert (changed.seats_taken, changed.waitlist_taken) == (4, 1)
    assert [name for name, status in statuses(event) if status == "registered"] == [
        "ada",
        "bob",
        "cat",
        "dan",
    ]
    assert place_by_token(token=places["dan"].token).position is None


def test_a_waiting_place_never_becomes_a_seat_once_the_event_has_started(full_with_queue, in_days):
    event, places = full_with_queue
    Event.objects.filter(pk=event.pk).update(start_time=in_days(0, minutes=-1))

    cancel_registration_by_token(token=places["ada"].token)
    update_event(event_id=event.pk, max_capacity=10)

    assert statuses(event) == [("bob", "registered"), ("cat", "waitlisted"), ("dan", "waitlisted")]
    assert counters(event) == (1, 2)


def test_a_cancelled_event_keeps_its_places_and_refuses_registrations_and_changes(
    full_with_queue, in_days
):
    event, places = full_with_queue

    cancelled = cancel_event(event_id=event.pk)

    assert cancelled.status == "cancelled"
    assert cancel_event(event_id=event.pk).status == "cancelled"  # again: nothing changes
    assert counters(event) == (2, 2)
    with pytest.raises(EventCancelled):
        register(event, "eve", waitlist=True)
    with pytest.raises(EventCancelled):
        update_event(event_id=event.pk, name="Back on")
    assert event not in upcoming_events(now=in_days(-1))
    # Its places may still be given up; nobody is promoted any more.
    cancel_registration_by_token(token=places["ada"].token)
    assert statuses(event) == [("bob", "registered"), ("cat", "waitlisted"), ("dan", "waitlisted")]


def test_an_event_that_has_started_cannot_be_cancelled(event_factory, in_days):
    event = event_factory(start_time=in_days(0, minutes=-1))
    with pytest.raises(EventStarted):
        cancel_event(event_id=event.pk)
    with pytest.raises(EventNotFound):
        cancel_event(event_id=987654)
    assert Event.objects.get(pk=event.pk).status == "scheduled"


def test_a_cancelled_event_answers_cancelled_before_started(event_factory, in_days):
    event = event_factory()
    cancel_event(event_id=event.pk)
    Event.objects.filter(pk=event.pk).update(start_time=in_days(0, minutes=-1))
    with pytest.raises(EventCancelled):
        register(event, "ada")


def test_the_admin_check_reads_the_same_rules(full_with_queue, event_factory, in_days):
    event, _ = full_with_queue
    now = in_days(0)
    Attendee.objects.filter(name="ada").delete()  # a seat free, and people waiting

    assert isinstance(registration_refusal(event_id=event.pk, email="e@x.io", now=now), EventFull)
    cancel_event(event_id=event.pk)
    assert isinstance(
        registration_refusal(event_id=event.pk, email="e@x.io", now=now), EventCancelled
    )
    started = event_factory(start_time=in_days(-1))
    assert isinstance(
        registration_refusal(event_id=started.pk, email="e@x.io", now=now), RegistrationClosed
    )
