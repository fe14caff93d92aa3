"""Changing an event over HTTP: PATCH by its owner keeps every rule update_event keeps."""

import pytest

from core.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(organiser_factory):
    return organiser_factory(username="owner")


@pytest.fixture
def client(owner, token_client):
    return token_client(owner)


@pytest.fixture
def event(owner, event_factory, in_days):
    return event_factory(
        owner=owner, name="Launch", location="Dock 5", start_time=in_days(10), max_capacity=5
    )


def patch(client, event, **changes):
    return client.patch(f"/api/events/{event.pk}/", changes, format="json")


def test_the_owner_changes_the_fields_sent_and_only_those(client, event):
    response = patch(client, event, name="Launch Party", max_capacity=8)

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["location"], body["max_capacity"]) == ("Launch Party", "Dock 5", 8)
    assert body["seats_available"] == 8
    stored = Event.objects.get(pk=event.pk)
    assert (stored.name, stored.location, stored.max_capacity) == ("Launch Party", "Dock 5", 8)
    assert client.get(f"/api/events/{event.pk}/").json()["name"] == "Launch Party"


def test_new_times_keep_their_instant(client, event):
    response = patch(
        client,
        event,
        start_time="2031-03-15T09:00:00+05:30",
        end_time="2031-03-15T12:00:00+05:30",
    )

    assert response.status_code == 200
    assert response.json()["start_time"] == "2031-03-15T03:30:00Z"


def test_capacity_below_the_seats_taken_is_a_conflict(client, event, attendee_factory):
    for _ in range(3):
        attendee_factory(event=event)

    response = patch(client, event, max_capacity=2)

    assert response.status_code == 409
    assert response.json() == {
        "detail": "The capacity cannot be lower than the 3 attendees already registered.",
        "code": "capacity_below_attendance",
    }
    assert Event.objects.get(pk=event.pk).max_capacity == 5
    assert patch(client, event, max_capacity=3).status_code == 200  # exactly full is fine


def test_an_end_not_after_the_start_is_invalid_whichever_of_them_is_sent(client, event, in_days):
    end_alone = patch(client, event, end_time=event.start_time.isoformat())
    start_alone = patch(client, event, start_time=in_days(20).isoformat())
    both = patch(
        client, event, start_time=in_days(20).isoformat(), end_time=in_days(19).isoformat()
    )

    for response in (end_alone, start_alone, both):
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "invalid"
        assert response.json()["errors"] == {
            "end_time": ["The end time must be after the start time."]
        }
    stored = Event.objects.get(pk=event.pk)
    assert (stored.start_time, stored.end_time) == (event.start_time, event.end_time)


def test_a_new_start_in_the_past_is_invalid(client, event, in_days):
    response = patch(client, event, start_time=in_days(-1).isoformat())

    assert response.status_code == 400
    assert response.json()["errors"] == {"start_time": ["The start time must be in the future."]}


def test_the_start_of_an_event_that_has_started_stays(client, owner, event_factory, in_days):
    started = event_factory(owner=owner, start_time=in_days(0, hours=-1), end_time=in_days(1))

    moved = patch(
        client, started, start_time=in_days(2).isoformat(), end_time=in_days(3).isoformat()
    )
    # Sending it back unchanged, with the rest of the event, is no move.
    longer = patch(
        client, started, start_time=started.start_time.isoformat(), end_time=in_days(2).isoformat()
    )

    assert moved.status_code == 409
    assert moved.json() == {
        "detail": "This event has already started: its start time can no longer change.",
        "code": "event_started",
    }
    assert longer.status_code == 200, longer.content
    assert Event.objects.get(pk=started.pk).start_time == started.start_time


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"location": None}, "location"),
        ({"max_capacity": 0}, "max_capacity"),
        ({"max_capacity": "many"}, "max_capacity"),
        ({"start_time": "2031-03-15T09:00:00"}, "start_time"),
    ],
)
def test_an_invalid_field_is_named(client, event, changes, field):
    response = patch(client, event, **changes)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_the_seat_figures_cannot_be_sent(client, event, attendee_factory):
    attendee_factory(event=event)

    response = patch(client, event, attendee_count=0, seats_available=99, id=12345)

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["attendee_count"]) == (event.pk, 1)
    assert Event.objects.get(pk=event.pk).seats_taken == 1


def test_put_is_not_offered(client, event):
    response = client.put(f"/api/events/{event.pk}/", {"name": "X"}, format="json")

    assert (response.status_code, response.json()["code"]) == (405, "method_not_allowed")


def test_an_unknown_event_is_not_found(client):
    response = client.patch("/api/events/987654/", {"name": "X"}, format="json")

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
