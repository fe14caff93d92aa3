"""`manage.py load_sample_data`: all rows or none, and a bad row named by file and line."""

import math
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import Attendee, Event, IdempotencyKey, OutgoingMessage
from core.sample_data import BATCH_SIZE, SampleDataError, load_sample_data
from core.text import BLANK_TEXT_MESSAGE

pytestmark = pytest.mark.django_db

EVENTS_HEADER = "key,name,location,start_time,end_time,max_capacity\n"
ATTENDEES_HEADER = "event_key,name,email\n"
GOOD_EVENTS = EVENTS_HEADER + (
    "future,Future Fest,Hall A,2031-05-01T09:00:00Z,2031-05-01T17:00:00Z,2\n"
    "past,Past Party,Hall B,2024-05-01T09:00:00+02:00,2024-05-01T17:00:00+02:00,10\n"
)
GOOD_ATTENDEES = ATTENDEES_HEADER + (
    "future,Ada,ada@example.com\nfuture,Bob,bob@example.com\npast,Cy,cy@example.com\n"
)


def load(tmp_path, events=GOOD_EVENTS, attendees=GOOD_ATTENDEES, *flags):
    (tmp_path / "events.csv").write_text(events)
    (tmp_path / "attendees.csv").write_text(attendees)
    out = StringIO()
    call_command(
        "load_sample_data",
        "--events", str(tmp_path / "events.csv"),
        "--attendees", str(tmp_path / "attendees.csv"),
        *flags,
        stdout=out,
    )  # fmt: skip
    return out.getvalue()


def snapshot():
    return (
        sorted(Event.objects.values_list("name", "seats_taken")),
        sorted(Attendee.objects.values_list("event__name", "email")),
    )


def test_loads_events_and_attendees_with_true_seat_counts(tmp_path):
    output = load(tmp_path)

    assert "Loaded 2 events and 3 attendees" in output
    assert snapshot() == (
        [("Future Fest", 2), ("Past Party", 1)],
        [("Future Fest", "ada@example.com"), ("Future Fest", "bob@example.com"),
         ("Past Party", "cy@example.com")],
    )  # fmt: skip


def test_loading_twice_gives_the_same_result(tmp_path):
    load(tmp_path)
    first = snapshot()
    load(tmp_path)
    assert snapshot() == first


# Committed for real: the database checks its foreign keys when the load's transaction commits.
@pytest.mark.django_db(transaction=True)
def test_reloading_after_a_registration_replaces_it_and_what_it_left_behind(tmp_path, api_client):
    events = GOOD_EVENTS.replace(",2\n", ",3\n")
    load(tmp_path, events)
    first = snapshot()
    event = Event.objects.get(name="Future Fest")
    response = api_client.post(
        f"/api/events/{event.pk}/register/",
        {"name": "Dee", "email": "dee@example.com"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="reload-1",
    )
    assert response.status_code == 201, response.content
    assert OutgoingMessage.objects.exists()
    assert IdempotencyKey.objects.exists()

    load(tmp_path, events)

    assert snapshot() == first
    # The email about the gone registration and the stored answer go with it.
    assert not OutgoingMessage.objects.exists()
    assert not IdempotencyKey.objects.exists()


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL binds at most 65,535 parameters in one statement",
)
def test_replaces_more_events_than_one_statement_can_name(tmp_path):
    """Clearing the old events names none of them: no statement grows with their number."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO core_event (name, location, start_time, end_time, max_capacity,"
            " seats_taken) SELECT 'Old ' || i, 'Hall', now() + interval '1 day',"
            " now() + interval '2 days', 5, 0 FROM generate_series(1, 70000) AS i"
        )

    with CaptureQueriesContext(connection) as queries:
        load(tmp_path)

    assert snapshot()[0] == [("Future Fest", 2), ("Past Party", 1)]
    assert max(len(query["sql"]) for query in queries) < 10_000


def test_if_empty_leaves_existing_events_alone(tmp_path, event_factory):
    event_factory(name="Mine")
    output = load(tmp_path, GOOD_EVENTS, GOOD_ATTENDEES, "--if-empty")
    assert "not loaded" in output
    assert list(Event.objects.values_list("name", flat=True)) == ["Mine"]


BAD_EVENTS = [
    (
        EVENTS_HEADER + "a,A,X,2031-13-01T09:00:00Z,2031-05-01T17:00:00Z,5\n",
        "events.csv:2: start_time '2031-13-01T09:00:00Z' is not an ISO 8601 datetime",
    ),
    (
        EVENTS_HEADER + "a,A,X,2031-05-01T09:00:00,2031-05-01T17:00:00Z,5\n",
        "events.csv:2: start_time '2031-05-01T09:00:00' has no UTC offset",
    ),
    ("key,name,start_time,end_time,max_capacity\n", "events.csv:1: missing column(s): location"),
    (
        EVENTS_HEADER + "a,A,X,2031-05-01T09:00:00Z,2031-05-01T17:00:00Z,5\n"
        "b,B,X,2031-05-01T09:00:00Z\n",
        "events.csv:3: missing value for end_time, max_capacity",
    ),
    (
        EVENTS_HEADER + "a,A,X,2031-05-01T09:00:00Z,2031-05-01T08:00:00Z,5\n",
        "events.csv:2: end_time: The end time must be after the start time.",
    ),
    (
        EVENTS_HEADER + "a,A,X,2031-05-01T09:00:00Z,2031-05-01T10:00:00Z,0\n",
        "events.csv:2: max_capacity: Ensure this value is greater than or equal to 1.",
    ),
    (
        EVENTS_HEADER + "a,   ,X,2031-05-01T09:00:00Z,2031-05-01T10:00:00Z,5\n",
        "events.csv:2: name: This field cannot be blank.",
    ),
    (
        EVENTS_HEADER + "a,\u200b\u200d,X,2031-05-01T09:00:00Z,2031-05-01T10:00:00Z,5\n",
        f"events.csv:2: name: {BLANK_TEXT_MESSAGE}",
    ),
    (
        EVENTS_HEADER + "a,A,\ufeff\u202e,2031-05-01T09:00:00Z,2031-05-01T10:00:00Z,5\n",
        f"events.csv:2: location: {BLANK_TEXT_MESSAGE}",
    ),
    (
        EVENTS_HEADER + "a,A,X,2031-05-01T09:00:00Z,2031-05-01T10:00:00Z,five\n",
        "events.csv:2: max_capacity 'five' is not a whole number.",
    ),
    (
        EVENTS_HEADER + "a,A,X,2031-05-01T09:00:00Z,2031-05-01T10:00:00Z,5\n"
        "a,B,X,2031-05-01T09:00:00Z,2031-05-01T10:00:00Z,5\n",
        "events.csv:3: key 'a' appears more than once.",
    ),
]
BAD_ATTENDEES = [
    (ATTENDEES_HEADER + "future,Ada,ada@example.com\nnope,Bob,bob@example.com\n",
     "attendees.csv:3: event_key 'nope' is not in events.csv."),
    (ATTENDEES_HEADER + "future,Ada,ada@example.com\nfuture,Ada,ADA@Example.com\n",
     "attendees.csv:3: email 'ADA@Example.com' is already registered for this event."),
    (ATTENDEES_HEADER + "future,A,a@example.com\nfuture,B,b@example.com\nfuture,C,c@example.com\n",
     "attendees.csv:4: event 'future' is already at its capacity of 2."),
    (ATTENDEES_HEADER + "future,Ada,not-an-email\n",
     "attendees.csv:2: email: Enter a valid email address."),
    ("event_key,name\n", "attendees.csv:1: missing column(s): email"),
    (ATTENDEES_HEADER + "future,Ada,ada@example.com\nfuture,\u2060 \u2066,bob@example.com\n",
     f"attendees.csv:3: name: {BLANK_TEXT_MESSAGE}"),
    (ATTENDEES_HEADER + "future,Idn,idn@bücher.de\nfuture,Idn,IDN@xn--bcher-kva.de\n",
     "attendees.csv:3: email 'IDN@xn--bcher-kva.de' is already registered for this event."),
    (ATTENDEES_HEADER + "future,Ada,ada@example.com\nfuture,Bob,bob@xn--zz.de\n",
     "attendees.csv:3: email: Enter a valid email address: its domain is not a valid "
     "internationalised domain name."),
]  # fmt: skip


@pytest.mark.parametrize(("events", "attendees", "message"), [
    *[(events, ATTENDEES_HEADER, message) for events, message in BAD_EVENTS],
    *[(GOOD_EVENTS, attendees, message) for attendees, message in BAD_ATTENDEES],
])  # fmt: skip
def test_a_bad_row_stops_the_load_and_changes_nothing(
    tmp_path, event_factory, attendee_factory, events, attendees, message
):
    attendee_factory(event=event_factory(name="Before"), email="keep@example.com")
    before = snapshot()

    with pytest.raises(CommandError) as raised:
        load(tmp_path, events, attendees)

    assert message in str(raised.value)
    assert "Nothing was changed." in str(raised.value)
    assert snapshot() == before


def test_duplicate_across_batches_is_named_by_its_line(tmp_path):
    rows = [f"future,G{i},g{i}@example.com" for i in range(5)] + ["future,Again,G1@EXAMPLE.com"]
    (tmp_path / "events.csv").write_text(GOOD_EVENTS.replace(",2\n", ",100\n"))
    (tmp_path / "attendees.csv").write_text(ATTENDEES_HEADER + "\n".join(rows) + "\n")

    with pytest.raises(SampleDataError, match=r"attendees.csv:7: email 'G1@EXAMPLE.com'"):
        load_sample_data(
            events_path=tmp_path / "events.csv",
            attendees_path=tmp_path / "attendees.csv",
            batch_size=2,
        )


def test_shipped_sample_has_past_and_upcoming_events():
    call_command(
        "load_sample_data",
        "--events", str(settings.BASE_DIR / "events.csv"),
        "--attendees", str(settings.BASE_DIR / "attendees.csv"),
        stdout=StringIO(),
    )  # fmt: skip
    now = timezone.now()
    upcoming = Event.objects.filter(start_time__gt=now)
    assert upcoming.exists()
    assert Event.objects.filter(start_time__lte=now).exists()
    assert all(event.start_time.year > now.year + 2 for event in upcoming)
    assert Attendee.objects.count() == sum(Event.objects.values_list("seats_taken", flat=True))


def write_generated(tmp_path, events: int, attendees: int):
    lines = [
        f"e{i},Event {i},Hall,2031-05-01T09:00:00Z,2031-05-01T17:00:00Z,{attendees}"
        for i in range(events)
    ]
    (tmp_path / "events.csv").write_text(EVENTS_HEADER + "\n".join(lines) + "\n")
    rows = [f"e{i % events},Guest {i},guest{i}@example.com" for i in range(attendees)]
    (tmp_path / "attendees.csv").write_text(ATTENDEES_HEADER + "\n".join(rows) + "\n")


@pytest.mark.parametrize(("events", "attendees"), [(2, 10), (40, 1500)])
def test_rows_are_written_in_batches_not_one_query_each(tmp_path, events, attendees):
    write_generated(tmp_path, events, attendees)

    with CaptureQueriesContext(connection) as queries:
        result = load_sample_data(
            events_path=tmp_path / "events.csv", attendees_path=tmp_path / "attendees.csv"
        )

    assert (result.events, result.attendees) == (events, attendees)
    writes = [q["sql"] for q in queries if q["sql"].startswith("INSERT")]
    # One statement per batch; SQLite splits a batch to stay under its limit of variables per
    # statement, one per column of each row.
    per_statement = BATCH_SIZE
    if connection.vendor == "sqlite":
        columns = sum(1 for field in Attendee._meta.concrete_fields if not field.primary_key)
        per_statement = min(BATCH_SIZE, connection.features.max_query_params // columns)
    assert len(writes) <= 1 + math.ceil(attendees / per_statement)
    assert Attendee.objects.count() == attendees
