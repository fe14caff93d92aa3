"""An organiser's side over HTTP: the waiting list, removing an attendee, cancelling an event.

Who may call each operation is in test_permissions.py; here, what each one does.
"""

import pytest

from core.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(organiser_factory):
    return organiser_factory(username="owner")


@pytest.fixture
def organiser(owner, token_client):
    return token_client(owner)


def register(client, event, who: str, **extra):
    body = {"name": who.title(), "email": f"{who}@example.com", **extra}
    return client.post(f"/api/events/{event.pk}/register/", body, format="json")


@pytest.fixture
def queue(api_client, owner, event_factory):
    """An event of 2 seats (ada, bob) with 3 waiting (cat, dan, eve, in that order)."""
    event = event_factory(owner=owner, max_capacity=2)
    answers = {
        who: register(api_client, event, who, waitlist=True).json()
        for who in ("ada", "bob", "cat", "dan", "eve")
    }
    return event, answers


def emails(page: dict) -> list[str]:
    return [row["email"] for row in page["results"]]


def test_the_waiting_list_is_in_order_and_paginated(organiser, queue):
    event, _ = queue
    url = f"/api/events/{event.pk}/waitlist/"

    first = organiser.get(url, {"page_size": 2}).json()
    second = organiser.get(url, {"page_size": 2, "page": 2}).json()

    assert first["count"] == 3
    assert emails(first) + emails(second) == [
        "cat@example.com",
        "dan@example.com",
        "eve@example.com",
    ]
    assert set(first["results"][0]) == {"id", "name", "email", "registered_at", "answers"}
    attendees = organiser.get(f"/api/events/{event.pk}/attendees/").json()
    assert emails(attendees) == ["ada@example.com", "bob@example.com"]


def test_removing_an_attendee_gives_the_seat_to_the_first_in_line(organiser, queue, api_client):
    event, answers = queue

    response = organiser.delete(f"/api/events/{event.pk}/attendees/{answers['bob']['id']}/")

    assert response.status_code == 204
    attendees = organiser.get(f"/api/events/{event.pk}/attendees/").json()
    waiting = organiser.get(f"/api/events/{event.pk}/waitlist/").json()
    assert emails(attendees) == ["ada@example.com", "cat@example.com"]
    assert emails(waiting) == ["dan@example.com", "eve@example.com"]
    assert api_client.get(f"/api/registrations/{answers['bob']['token']}/").status_code == 404
    cat = api_client.get(f"/api/registrations/{answers['cat']['token']}/").json()
    assert (cat["status"], cat["position"]) == ("registered", None)


def test_removing_a_waiting_entry_moves_the_others_up(organiser, queue, api_client):
    event, answers = queue

    organiser.delete(f"/api/events/{event.pk}/attendees/{answers['cat']['id']}/")

    eve = api_client.get(f"/api/registrations/{answers['eve']['token']}/").json()
    assert (eve["status"], eve["position"]) == ("waitlisted", 2)


def test_removing_twice_or_from_another_event_is_404(organiser, queue, owner, event_factory):
    event, answers = queue
    other = event_factory(owner=owner)
    url = f"/api/events/{event.pk}/attendees/{answers['ada']['id']}/"
    assert organiser.delete(url).status_code == 204

    for path in (url, f"/api/events/{other.pk}/attendees/{answers['bob']['id']}/"):
        response = organiser.delete(path)
        assert response.status_code == 404
        assert response.json() == {
            "detail": "This event has no attendee with this id.",
            "code": "not_found",
        }
    assert organiser.delete(f"/api/events/987654/attendees/{answers['bob']['id']}/").json() == {
        "detail": "No event exists with this id.",
        "code": "not_found",
    }


def test_a_raised_capacity_seats_the_first_in_line(organiser, queue):
    event, _ = queue

    response = organiser.patch(f"/api/events/{event.pk}/", {"max_capacity": 4}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["attendee_count"], body["waitlist_count"], body["seats_available"]) == (4, 1, 0)
    waiting = organiser.get(f"/api/events/{event.pk}/waitlist/").json()
    assert emails(waiting) == ["eve@example.com"]


def test_cancelling_an_event(organiser, queue, api_client, in_days):
    event, answers = queue
    assert api_client.get("/api/events/").json()["count"] == 1

    response = organiser.post(f"/api/events/{event.pk}/cancel/")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"]) == (event.pk, "cancelled")
    assert (body["attendee_count"], body["waitlist_count"]) == (2, 3)  # kept as records
    assert api_client.get("/api/events/").json()["count"] == 0
    assert api_client.get(f"/api/events/{event.pk}/").json()["status"] == "cancelled"
    assert organiser.post(f"/api/events/{event.pk}/cancel/").json()["status"] == "cancelled"
    refusals = [
        organiser.patch(f"/api/events/{event.pk}/", {"name": "Back on"}, format="json"),
        register(api_client, event, "fay", waitlist=True),
    ]
    for refused in refusals:
        assert refused.status_code == 409
        assert refused.json() == {
            "detail": "This event has been cancelled.",
            "code": "event_cancelled",
        }
    # A place may still be given up; nobody is promoted any more.
    assert api_client.delete(f"/api/registrations/{answers['ada']['token']}/").status_code == 204
    cat = api_client.get(f"/api/registrations/{answers['cat']['token']}/").json()
    assert (cat["status"], cat["position"]) == ("waitlisted", 1)
    assert Event.objects.get(pk=event.pk).name != "Back on"


def test_an_event_that_has_started_cannot_be_cancelled(organiser, owner, event_factory, in_days):
    event = event_factory(owner=owner, start_time=in_days(0, hours=-1))

    response = organiser.post(f"/api/events/{event.pk}/cancel/")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This event has already started: it can no longer be cancelled.",
        "code": "event_started",
    }
    assert Event.objects.get(pk=event.pk).status == "scheduled"


def test_status_is_not_changed_by_a_patch(organiser, owner, event_factory):
    event = event_factory(owner=owner)
    response = organiser.patch(f"/api/events/{event.pk}/", {"status": "cancelled"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "scheduled"
