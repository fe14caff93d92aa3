"""The registration rules, one at a time (the races are in test_concurrency.py)."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from core.exceptions import (
    AlreadyRegistered,
    AttendeeNotFound,
    CapacityBelowAttendance,
    EventFull,
    EventNotFound,
    EventStarted,
    RegistrationClosed,
)
from core.models import Attendee, Event
from core.services import (
    create_event,
    domain_error_for,
    register_attendee,
    remove_attendee,
    update_event,
)
from core.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_registration_takes_a_seat(event_factory):
    event = event_factory(max_capacity=2)

    attendee = register_attendee(event_id=event.pk, name="Ada", email="  ada@example.com ").attendee

    assert attendee.email == "ada@example.com"
    assert attendee.registered_at is not None
    event.refresh_from_db()
    assert (event.seats_taken, event.seats_available) == (1, 1)


def test_full_event_refuses(event_factory):
    event = event_factory(max_capacity=1)
    register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")

    with pytest.raises(EventFull):
        register_attendee(event_id=event.pk, name="Bob", email="bob@example.com")
    assert Attendee.objects.filter(event=event).count() == 1


@pytest.mark.parametrize("spelling", ["ADA@example.com", " Ada@Example.COM  "])
def test_same_email_refused_whatever_its_case_or_spaces(event_factory, spelling):
    event = event_factory()
    register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")

    with pytest.raises(AlreadyRegistered):
        register_attendee(event_id=event.pk, name="Ada", email=spelling)
    event.refresh_from_db()
    assert event.seats_taken == 1


def test_an_internationalised_domain_is_stored_and_compared_in_ascii(event_factory):
    event = event_factory()

    attendee = register_attendee(event_id=event.pk, name="Idn", email=" idn@Bücher.de ").attendee

    assert attendee.email == "idn@xn--bcher-kva.de"
    assert Attendee.objects.get().email == "idn@xn--bcher-kva.de"
    for spelling in ["idn@xn--bcher-kva.de", "IDN@BÜCHER.DE", "idn@XN--BCHER-KVA.DE"]:
        with pytest.raises(AlreadyRegistered):
            register_attendee(event_id=event.pk, name="Idn", email=spelling)


def test_an_email_with_no_ascii_domain_is_refused_on_its_field(event_factory):
    event = event_factory()

    with pytest.raises(ValidationError) as refused:
        register_attendee(event_id=event.pk, name="Ada", email="ada@xn--zz.de")

    assert list(refused.value.message_dict) == ["email"]
    assert not Attendee.objects.exists()


def test_registered_email_hears_already_registered_even_when_full(event_factory):
    event = event_factory(max_capacity=1)
    register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")

    with pytest.raises(AlreadyRegistered):
        register_attendee(event_id=event.pk, name="Ada", email="ADA@example.com")


def test_started_event_refuses(event_factory, in_days):
    event = event_factory(start_time=in_days(0, minutes=-1))

    with pytest.raises(RegistrationClosed):
        register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    assert not Attendee.objects.exists()


def test_unknown_event_refuses():
    with pytest.raises(EventNotFound):
        register_attendee(event_id=987654, name="Ada", email="ada@example.com")


def test_removing_an_attendee_gives_the_seat_back(event_factory):
    event = event_factory(max_capacity=1)
    attendee = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com").attendee

    remove_attendee(event_id=event.pk, attendee_id=attendee.pk)
    with pytest.raises(AttendeeNotFound):  # already gone: nothing more happens
        remove_attendee(event_id=event.pk, attendee_id=attendee.pk)

    event.refresh_from_db()
    assert event.seats_taken == 0
    assert register_attendee(event_id=event.pk, name="Bob", email="bob@example.com")


def test_create_event_keeps_the_fields(in_days):
    event = create_event(
        name="Launch",
        location="Dock 5",
        start_time=in_days(3),
        end_time=in_days(3, hours=2),
        max_capacity=10,
        owner=None,
    )
    assert Event.objects.get(pk=event.pk).seats_taken == 0


def test_constraint_violations_map_to_domain_errors(event_factory):
    event = event_factory(max_capacity=1)
    register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")

    with pytest.raises(IntegrityError) as over_capacity, transaction.atomic():
        Event.objects.filter(pk=event.pk).update(seats_taken=F("seats_taken") + 1)
    with pytest.raises(IntegrityError) as duplicate, transaction.atomic():
        Attendee.objects.create(event=event, name="Ada", email="ADA@example.com")

    assert isinstance(domain_error_for(over_capacity.value), EventFull)
    assert isinstance(domain_error_for(duplicate.value), AlreadyRegistered)


def details(event, **changes):
    fields = ["name", "location", "start_time", "end_time", "max_capacity"]
    return {name: getattr(event, name) for name in fields} | changes


def test_update_event_changes_the_details(event_factory):
    event = event_factory(max_capacity=5)

    update_event(event_id=event.pk, **details(event, name="Renamed", max_capacity=8))

    event.refresh_from_db()
    assert (event.name, event.max_capacity) == ("Renamed", 8)


def test_update_event_refuses_capacity_below_attendance(event_factory, attendee_factory):
    event = event_factory(max_capacity=5)
    for _ in range(3):
        attendee_factory(event=event)

    with pytest.raises(CapacityBelowAttendance) as refused:
        update_event(event_id=event.pk, **details(event, max_capacity=2))

    assert refused.value.message == (
        "The capacity cannot be lower than the 3 attendees already registered."
    )
    event.refresh_from_db()
    assert (event.max_capacity, event.seats_taken) == (5, 3)
    update_event(event_id=event.pk, **details(event, max_capacity=3))  # down to exactly full
    assert Event.objects.get(pk=event.pk).max_capacity == 3


def test_update_event_keeps_seats_taken_since_the_caller_read_it(event_factory):
    event = event_factory(max_capacity=5)
    stale = Event.objects.get(pk=event.pk)  # as an admin form loads it, before Ada registers
    register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")

    update_event(event_id=event.pk, **details(stale, name="Renamed"))

    assert Event.objects.get(pk=event.pk).seats_taken == 1


def test_update_event_refuses_an_unknown_event(event_factory):
    event = event_factory()
    with pytest.raises(EventNotFound):
        update_event(event_id=987654, **details(event))


def test_create_event_records_its_owner(event_factory, in_days):
    owner = UserFactory()
    fields = {"name": "Launch", "location": "Dock 5", "max_capacity": 10}

    owned = create_event(owner=owner, start_time=in_days(3), end_time=in_days(4), **fields)
    anonymous = create_event(owner=None, start_time=in_days(3), end_time=in_days(4), **fields)

    assert Event.objects.get(pk=owned.pk).owner == owner
    assert Event.objects.get(pk=anonymous.pk).owner is None


def test_update_event_changes_only_the_details_given(event_factory):
    event = event_factory(name="Launch", location="Dock 5", max_capacity=5)

    update_event(event_id=event.pk, location="Pier 7")

    stored = Event.objects.get(pk=event.pk)
    assert (stored.name, stored.location, stored.max_capacity) == ("Launch", "Pier 7", 5)
    assert (stored.start_time, stored.end_time) == (event.start_time, event.end_time)


def test_update_event_refuses_to_move_the_start_of_an_event_that_has_started(
    event_factory, in_days
):
    event = event_factory(start_time=in_days(0, hours=-1), end_time=in_days(0, hours=2))

    with pytest.raises(EventStarted):
        update_event(event_id=event.pk, start_time=in_days(3), end_time=in_days(4))

    stored = Event.objects.get(pk=event.pk)
    assert (stored.start_time, stored.end_time) == (event.start_time, event.end_time)
    # Its other details, and its start given unchanged, may still change.
    later = in_days(1)
    update_event(**details(event, event_id=event.pk, end_time=later, name="Longer"))
    stored = Event.objects.get(pk=event.pk)
    assert (stored.name, stored.start_time, stored.end_time) == ("Longer", event.start_time, later)


def test_update_event_refuses_an_end_not_after_the_start(event_factory):
    event = event_factory()

    with pytest.raises(ValidationError) as refused:
        update_event(event_id=event.pk, end_time=event.start_time)

    assert "end_time" in refused.value.message_dict
    assert Event.objects.get(pk=event.pk).end_time == event.end_time


def test_an_event_update_changes_the_fields_given_and_refuses_others(event_factory):
    event = event_factory(name="Before", location="Hall A")

    update_event(event_id=event.pk, location="Hall B")

    event.refresh_from_db()
    assert (event.name, event.location) == ("Before", "Hall B")
    with pytest.raises(TypeError, match="seats_taken"):
        update_event(event_id=event.pk, seats_taken=0)
    with pytest.raises(TypeError, match="status"):
        create_event(owner=None, status="cancelled")
