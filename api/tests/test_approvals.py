"""Events that require approval, over HTTP: pending requests, approving and declining them."""

import pytest

from core.models import Attendee, Event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def closed_access(settings):
    settings.API_OPEN_ACCESS = False


@pytest.fixture
def event(event_factory, owner):
    return event_factory(owner=owner, max_capacity=1, requires_approval=True)


def register(client, event, email="ada@example.com", **body):
    return client.post(
        f"/api/events/{event.pk}/register/",
        {"name": "Ada", "email": email, **body},
        format="json",
    )


def approve(client, event, attendee_id):
    return client.post(f"/api/events/{event.pk}/pending/{attendee_id}/approve/")


def decline(client, event, attendee_id, **body):
    return client.post(
        f"/api/events/{event.pk}/pending/{attendee_id}/decline/", body, format="json"
    )


def test_an_organiser_creates_an_event_that_requires_approval(owner_client, in_days):
    response = owner_client.post(
        "/api/events/",
        {
            "name": "Workshop",
            "location": "Room 1",
            "start_time": in_days(3).isoformat(),
            "end_time": in_days(3, hours=2).isoformat(),
            "max_capacity": 10,
            "requires_approval": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["requires_approval"] is True
    assert Event.objects.get(pk=response.json()["id"]).requires_approval


def test_a_request_waits_holding_no_seat_until_approved(
    api_client, owner_client, event, deliver_emails
):
    response = register(api_client, event)
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["position"]) == ("pending", None)
    assert body["token"]
    assert [email.subject for email in deliver_emails()] == [
        f"Your request for {event.name} awaits approval"
    ]
    assert Event.objects.get(pk=event.pk).seats_taken == 0
    assert api_client.get(f"/api/registrations/{body['token']}/").json()["status"] == "pending"
    # Not on the attendee list, nor on the waiting list: on the pending list.
    attendees = owner_client.get(f"/api/events/{event.pk}/attendees/").json()
    assert attendees["results"] == []
    pending = owner_client.get(f"/api/events/{event.pk}/pending/").json()
    assert [row["id"] for row in pending["results"]] == [body["id"]]

    approved = approve(owner_client, event, body["id"])
    assert approved.status_code == 200, approved.content
    assert (approved.json()["status"], approved.json()["position"]) == ("registered", None)
    assert Event.objects.get(pk=event.pk).seats_taken == 1
    assert owner_client.get(f"/api/events/{event.pk}/pending/").json()["results"] == []
    emails = deliver_emails()
    assert [email.subject for email in emails[1:]] == [
        f"Your registration for {event.name} is approved"
    ]
    assert "invite.ics" in [attachment[0] for attachment in emails[1].attachments]
    again = approve(owner_client, event, body["id"])
    assert (again.status_code, again.json()["code"]) == (404, "not_found")


def test_an_approval_with_no_seat_free_takes_a_waiting_place(api_client, owner_client, event):
    first = register(api_client, event).json()["id"]
    second = register(api_client, event, email="bob@example.com").json()["id"]
    assert approve(owner_client, event, first).json()["status"] == "registered"
    response = approve(owner_client, event, second)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["position"]) == ("waitlisted", 1)
    event.refresh_from_db()
    assert (event.seats_taken, event.waitlist_taken) == (1, 1)


def test_a_declined_request_is_gone_and_told_why(api_client, owner_client, event, deliver_emails):
    body = register(api_client, event).json()
    response = decline(owner_client, event, body["id"], message="Members only, sorry.")
    assert response.status_code == 204
    assert not Attendee.objects.filter(pk=body["id"]).exists()
    assert api_client.get(f"/api/registrations/{body['token']}/").status_code == 404
    emails = deliver_emails()
    # The pending notice, no longer true by sending time, is skipped; the decline is sent.
    assert [email.subject for email in emails] == [f"Your request for {event.name} was declined"]
    assert "Members only, sorry." in emails[0].body
    # Declined, the address may ask again.
    assert register(api_client, event).status_code == 202
    again = decline(owner_client, event, body["id"])
    assert (again.status_code, again.json()["code"]) == (404, "not_found")


def test_a_pending_request_counts_as_a_registration_of_its_email(api_client, event):
    assert register(api_client, event).status_code == 202
    repeat = register(api_client, event, email="ADA@example.com")
    assert (repeat.status_code, repeat.json()["code"]) == (409, "already_registered")


def test_a_full_event_takes_requests_only_from_those_willing_to_wait(
    api_client, owner_client, event
):
    approve(owner_client, event, register(api_client, event).json()["id"])
    full = register(api_client, event, email="bob@example.com")
    assert (full.status_code, full.json()["code"]) == (409, "event_full")
    waiting = register(api_client, event, email="bob@example.com", waitlist=True)
    assert (waiting.status_code, waiting.json()["status"]) == (202, "pending")


def test_only_the_owner_and_staff_decide(
    api_client, token_client, organiser_factory, staff_factory, event
):
    attendee_id = register(api_client, event).json()["id"]
    other = token_client(organiser_factory())
    for client, status, code in (
        (api_client, 401, "not_authenticated"),
        (other, 403, "permission_denied"),
    ):
        for response in (
            client.get(f"/api/events/{event.pk}/pending/"),
            approve(client, event, attendee_id),
            decline(client, event, attendee_id),
        ):
            assert (response.status_code, response.json()["code"]) == (status, code)
    assert Attendee.objects.get(pk=attendee_id).status == "pending"
    assert approve(token_client(staff_factory()), event, attendee_id).status_code == 200


def test_no_approval_once_the_event_is_cancelled_or_unknown(api_client, owner_client, event):
    attendee_id = register(api_client, event).json()["id"]
    assert owner_client.post(f"/api/events/{event.pk}/cancel/").status_code == 200
    response = approve(owner_client, event, attendee_id)
    assert (response.status_code, response.json()["code"]) == (409, "event_cancelled")
    assert Attendee.objects.get(pk=attendee_id).status == "pending"
    unknown = owner_client.post(f"/api/events/987654/pending/{attendee_id}/approve/")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")


def test_a_request_of_another_event_is_not_found(api_client, owner_client, event, event_factory):
    other = event_factory(owner=event.owner, requires_approval=True)
    attendee_id = register(api_client, other).json()["id"]
    response = approve(owner_client, event, attendee_id)
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    long = decline(owner_client, other, attendee_id, message="x" * 2001)
    assert (long.status_code, list(long.json()["errors"])) == (400, ["message"])


def test_no_approval_once_the_event_has_started(api_client, owner_client, event, in_days):
    attendee_id = register(api_client, event).json()["id"]
    Event.objects.filter(pk=event.pk).update(start_time=in_days(-1), end_time=in_days(1))
    response = approve(owner_client, event, attendee_id)
    assert (response.status_code, response.json()["code"]) == (409, "registration_closed")
    assert Attendee.objects.get(pk=attendee_id).status == "pending"


def test_an_unknown_event_has_no_pending_list_and_nothing_to_decline(owner_client):
    for response in (
        owner_client.get("/api/events/987654/pending/"),
        owner_client.post("/api/events/987654/pending/1/decline/"),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
