"""The database itself refuses data that breaks a rule, whatever the Python code does."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from core.models import Attendee, Event

pytestmark = pytest.mark.django_db


def test_end_must_be_after_start(event_factory, in_days):
    start = in_days(10)
    with pytest.raises(IntegrityError, match="event_end_after_start"), transaction.atomic():
        event_factory(start_time=start, end_time=start)


@pytest.mark.parametrize("capacity", [0, 1_000_001])
def test_capacity_must_be_within_range(event_factory, capacity):
    with pytest.raises(IntegrityError, match="event_capacity_in_range"), transaction.atomic():
        event_factory(max_capacity=capacity)


def test_seats_taken_cannot_exceed_capacity(event_factory):
    event = event_factory(max_capacity=1)
    Event.objects.filter(pk=event.pk).update(seats_taken=1)
    with (
        pytest.raises(IntegrityError, match="event_seats_taken_within_capacity"),
        transaction.atomic(),
    ):
        Event.objects.filter(pk=event.pk).update(seats_taken=F("seats_taken") + 1)


def test_one_registration_per_email_ignoring_case(event_factory):
    event = event_factory()
    Attendee.objects.create(event=event, name="Ada", email="ada@example.com")
    with (
        pytest.raises(IntegrityError, match="attendee_unique_email_per_event"),
        transaction.atomic(),
    ):
        Attendee.objects.create(event=event, name="Ada again", email="ADA@Example.com")


def test_same_email_may_register_for_another_event(event_factory):
    Attendee.objects.create(event=event_factory(), name="Ada", email="ada@example.com")
    Attendee.objects.create(event=event_factory(), name="Ada", email="ada@example.com")
    assert Attendee.objects.count() == 2


def test_clean_refuses_end_before_start_and_capacity_below_attendance(event_factory):
    event = event_factory(max_capacity=5)
    Event.objects.filter(pk=event.pk).update(seats_taken=3)
    event.refresh_from_db()
    event.end_time = event.start_time - timedelta(minutes=1)
    event.max_capacity = 2
    with pytest.raises(ValidationError) as raised:
        event.clean()
    assert set(raised.value.message_dict) == {"end_time", "max_capacity"}
    assert "3 attendees" in raised.value.message_dict["max_capacity"][0]


def seats_taken(event) -> int:
    return Event.objects.values_list("seats_taken", flat=True).get(pk=event.pk)


def test_database_counts_seats_on_every_insert_delete_and_move(event_factory):
    first, second = event_factory(max_capacity=3), event_factory(max_capacity=3)

    Attendee.objects.bulk_create(
        Attendee(event=first, name=f"G{i}", email=f"g{i}@example.com") for i in range(3)
    )
    assert (seats_taken(first), seats_taken(second)) == (3, 0)

    Attendee.objects.filter(email="g0@example.com").update(event=second)
    assert (seats_taken(first), seats_taken(second)) == (2, 1)

    Attendee.objects.filter(email="g1@example.com").update(name="Renamed")
    assert (seats_taken(first), seats_taken(second)) == (2, 1)

    Attendee.objects.filter(event=first).delete()
    assert (seats_taken(first), seats_taken(second)) == (0, 1)


def test_database_refuses_an_insert_that_would_overbook(event_factory):
    event = event_factory(max_capacity=2)
    with (
        pytest.raises(IntegrityError, match="event_seats_taken_within_capacity"),
        transaction.atomic(),
    ):
        Attendee.objects.bulk_create(
            Attendee(event=event, name=f"G{i}", email=f"g{i}@example.com") for i in range(3)
        )
    assert seats_taken(event) == 0
    assert not Attendee.objects.exists()


def test_saving_a_stale_copy_keeps_the_seat_count(event_factory):
    event = event_factory(max_capacity=3)
    stale = Event.objects.get(pk=event.pk)
    Attendee.objects.create(event=event, name="Ada", email="ada@example.com")

    stale.name = "Renamed"
    stale.save()

    assert Event.objects.values_list("name", "seats_taken").get(pk=event.pk) == ("Renamed", 1)


def test_a_move_is_counted_even_when_the_row_changes_its_id(event_factory):
    first, second = event_factory(), event_factory()
    attendee = Attendee.objects.create(event=first, name="Ada", email="ada@example.com")

    Attendee.objects.filter(pk=attendee.pk).update(id=F("id") + 1000, event=second)

    assert (seats_taken(first), seats_taken(second)) == (0, 1)


def counters(event) -> tuple[int, int]:
    return Event.objects.values_list("seats_taken", "waitlist_taken").get(pk=event.pk)


def test_database_counts_seats_and_waiting_places_apart(event_factory):
    first, second = event_factory(max_capacity=2), event_factory(max_capacity=2)
    Attendee.objects.bulk_create(
        [
            Attendee(event=first, name="Seat", email="seat@example.com"),
            Attendee(event=first, name="Wait", email="wait@example.com", status="waitlisted"),
            Attendee(event=first, name="Wait2", email="wait2@example.com", status="waitlisted"),
        ]
    )
    assert (counters(first), counters(second)) == ((1, 2), (0, 0))

    # A promotion takes a seat and gives up a waiting place, in one statement.
    Attendee.objects.filter(email="wait@example.com").update(status="registered")
    assert counters(first) == (2, 1)

    # A waiting place moved to another event, and a seat given up.
    Attendee.objects.filter(email="wait2@example.com").update(event=second)
    Attendee.objects.filter(email="seat@example.com").delete()
    assert (counters(first), counters(second)) == ((1, 0), (0, 1))


def test_database_refuses_a_promotion_that_would_overbook(event_factory):
    event = event_factory(max_capacity=1)
    Attendee.objects.create(event=event, name="Seat", email="seat@example.com")
    Attendee.objects.create(event=event, name="Wait", email="wait@example.com", status="waitlisted")
    with (
        pytest.raises(IntegrityError, match="event_seats_taken_within_capacity"),
        transaction.atomic(),
    ):
        Attendee.objects.filter(status="waitlisted").update(status="registered")
    assert counters(event) == (1, 1)


def test_one_place_per_email_across_seats_and_waiting_list(event_factory):
    event = event_factory(max_capacity=1)
    Attendee.objects.create(event=event, name="Ada", email="ada@example.com")
    with (
        pytest.raises(IntegrityError, match="attendee_unique_email_per_event"),
        transaction.atomic(),
    ):
        Attendee.objects.create(
            event=event, name="Ada", email="ADA@example.com", status="waitlisted"
        )


@pytest.mark.parametrize(
    ("model", "status", "constraint"),
    [(Event, "postponed", "event_status_known"), (Attendee, "maybe", "attendee_status_known")],
)
def test_database_refuses_an_unknown_status(event_factory, model, status, constraint):
    Attendee.objects.create(event=event_factory(), name="Ada", email="ada@example.com")
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        model.objects.update(status=status)


def test_the_counting_triggers_are_in_place(event_factory):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'core_attendee'::regclass"
                " AND NOT tgisinternal"
            )
        names = {row[0] for row in cursor.fetchall()}
    assert {
        "core_attendee_count_inserted",
        "core_attendee_count_deleted",
        "core_attendee_count_moved",
    } <= names


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's here")
def test_truncate_frees_every_seat_and_waiting_place(event_factory):
    event = event_factory(max_capacity=1)
    Attendee.objects.create(event=event, name="Seat", email="seat@example.com")
    Attendee.objects.create(event=event, name="Wait", email="wait@example.com", status="waitlisted")
    with connection.cursor() as cursor:
        # The foreign keys' deferred checks run first: TRUNCATE refuses to pass them by.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE core_attendee")
    assert counters(event) == (0, 0)
