"""The migrations, unapplied and applied again on the test database: every step reverses, and
what the database keeps by itself (core/sql/) is back in force after."""

import pytest
from django.core.management import call_command
from django.db import connection, models

from core.models import Attendee, Event
from core.sql import checkin, counters

pytestmark = pytest.mark.django_db(transaction=True)


def test_unapplying_and_reapplying_every_migration_keeps_the_counters(event_factory):
    call_command("migrate", "core", "0001", verbosity=0)
    call_command("migrate", verbosity=0)

    event = event_factory(max_capacity=1)
    Attendee.objects.create(event=event, name="Seat", email="seat@example.com")
    Attendee.objects.create(event=event, name="Wait", email="wait@example.com", status="waitlisted")
    event = Event.objects.get(pk=event.pk)
    assert (event.seats_taken, event.waitlist_taken) == (1, 1)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's row triggers only")
def test_a_rebuilt_event_table_keeps_its_counting_triggers():
    # Migration 0010 rebuilds core_event on SQLite (a NOT NULL column): the triggers named by
    # counters.TRIGGERS must survive it, kept by the backend (event_management_system/sqlite3).
    call_command("migrate", "core", "0009", verbosity=0)
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        assert set(counters.TRIGGERS) <= {row[0] for row in cursor.fetchall()}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's table rebuilds")
def test_a_plain_migration_that_adds_a_field_to_events_keeps_the_counters(event_factory):
    # What `makemigrations` writes for a new Event field: SQLite rebuilds core_event for it.
    field = models.TextField(default="", db_default="", blank=True)
    field.set_attributes_from_name("description")
    with connection.schema_editor() as editor:
        editor.add_field(Event, field)
    try:
        event = event_factory(max_capacity=1)
        Attendee.objects.create(event=event, name="Seat", email="seat@example.com")
        assert Event.objects.values_list("seats_taken", flat=True).get(pk=event.pk) == 1
    finally:
        with connection.schema_editor() as editor:
            editor.remove_field(Event, field)
    Attendee.objects.create(event=event, name="Wait", email="wait@example.com", status="waitlisted")
    assert Event.objects.values_list("waitlist_taken", flat=True).get(pk=event.pk) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's check-in function")
def test_the_check_in_function_is_replaced_by_0017_and_restored_by_unapplying_it():
    def signatures() -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pronargs FROM pg_proc WHERE proname = %s", [checkin.FUNCTION])
            return [row[0] for row in cursor.fetchall()]

    assert signatures() == [10]
    call_command("migrate", "core", "0016", verbosity=0)
    # 0015's function, without the webhook message's id, and only it.
    assert signatures() == [9]
    call_command("migrate", verbosity=0)
    assert signatures() == [10]
