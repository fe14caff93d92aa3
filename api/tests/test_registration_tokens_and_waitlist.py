"""An attendee's side over HTTP: the token, reading and cancelling by it, the waiting list."""

import logging

import pytest

from core.models import Attendee, Event
from core.tickets import issue_ticket

pytestmark = pytest.mark.django_db

PLACE_FIELDS = {
    "id", "event", "name", "email", "status", "position", "registered_at", "answers", "ticket"
}  # fmt: skip


def register(client, event, who: str, **extra):
    body = {"name": who.title(), "email": f"{who}@example.com", **extra}
    return client.post(f"/api/events/{event.pk}/register/", body, format="json")


def place_url(token: str) -> str:
    return f"/api/registrations/{token}/"


@pytest.fixture
def ada(api_client, event_factory) -> dict:
    """Ada's answer for the only seat of an event."""
    response = register(api_client, event_factory(max_capacity=1), "ada")
    assert response.status_code == 201
    return response.json()


@pytest.fixture
def full_event(ada):
    return Event.objects.get(pk=ada["event"])


def test_a_registration_answers_201_with_its_token_once(api_client, event_factory):
    event = event_factory()

    response = register(api_client, event, "ada")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == PLACE_FIELDS | {"token"}
    assert (body["status"], body["position"]) == ("registered", None)
    assert len(body["token"]) >= 43
    assert body["ticket"] == issue_ticket(event_id=event.pk, registration_id=body["id"])
    read = api_client.get(place_url(body["token"]))
    assert read.status_code == 200
    assert read.json() == {key: value for key, value in body.items() if key != "token"}
    assert read["Cache-Control"] == "no-store"


def test_a_full_event_answers_202_with_a_waiting_place_when_asked(api_client, full_event):
    first = register(api_client, full_event, "bob", waitlist=True)
    second = register(api_client, full_event, "cat", waitlist=True)

    assert (first.status_code, second.status_code) == (202, 202)
    assert set(first.json()) == PLACE_FIELDS | {"token"}
    assert [(r.json()["status"], r.json()["position"]) for r in (first, second)] == [
        ("waitlisted", 1),
        ("waitlisted", 2),
    ]
    assert [r.json()["ticket"] for r in (first, second)] == [None, None]
    read = api_client.get(place_url(second.json()["token"])).json()
    assert (read["status"], read["position"]) == ("waitlisted", 2)
    detail = api_client.get(f"/api/events/{full_event.pk}/").json()
    assert (detail["attendee_count"], detail["waitlist_count"]) == (1, 2)


def test_with_a_seat_free_asking_to_wait_registers_as_usual(api_client, event_factory):
    response = register(api_client, event_factory(), "ada", waitlist=True)
    assert response.status_code == 201
    assert response.json()["status"] == "registered"


def test_a_full_event_still_answers_409_without_the_flag(api_client, full_event):
    response = register(api_client, full_event, "bob", waitlist=False)
    assert response.status_code == 409
    assert response.json()["code"] == "event_full"


def test_a_waiting_email_registers_once(api_client, full_event):
    register(api_client, full_event, "bob", waitlist=True)

    response = register(api_client, full_event, "BOB", waitlist=True)

    assert response.status_code == 409
    assert response.json()["code"] == "already_registered"


def test_while_anyone_waits_a_newcomer_without_the_flag_gets_409(api_client, full_event):
    register(api_client, full_event, "bob", waitlist=True)
    Attendee.objects.filter(email="ada@example.com").delete()  # freed without promotion

    response = register(api_client, full_event, "cat")

    assert response.status_code == 409
    assert response.json()["code"] == "event_full"


def test_a_waitlist_flag_that_is_not_a_boolean_is_400(api_client, event_factory):
    response = register(api_client, event_factory(), "ada", waitlist="perhaps")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["waitlist"]


def test_cancelling_by_token_frees_the_seat_for_the_first_in_line(api_client, full_event, ada):
    waiting = [register(api_client, full_event, who, waitlist=True).json() for who in ("b", "c")]

    assert api_client.delete(place_url(ada["token"])).status_code == 204

    promoted = api_client.get(place_url(waiting[0]["token"])).json()
    behind = api_client.get(place_url(waiting[1]["token"])).json()
    assert (promoted["status"], promoted["position"]) == ("registered", None)
    assert (behind["status"], behind["position"]) == ("waitlisted", 1)
    attendees = api_client.get(f"/api/events/{full_event.pk}/attendees/").json()
    assert [a["email"] for a in attendees["results"]] == ["b@example.com"]
    again = api_client.delete(place_url(ada["token"]))
    assert again.status_code == 404
    assert again.json()["code"] == "not_found"
    assert api_client.get(place_url(ada["token"])).status_code == 404


def test_giving_up_a_waiting_place_by_token_keeps_the_seats(api_client, full_event):
    waiting = register(api_client, full_event, "bob", waitlist=True).json()

    assert api_client.delete(place_url(waiting["token"])).status_code == 204

    detail = api_client.get(f"/api/events/{full_event.pk}/").json()
    assert (detail["attendee_count"], detail["waitlist_count"]) == (1, 0)


def test_an_unknown_token_is_404_not_found(api_client):
    for method in (api_client.get, api_client.delete):
        response = method(place_url("x" * 43))
        assert response.status_code == 404
        assert response.json() == {
            "detail": "No registration exists with this token.",
            "code": "not_found",
        }
    assert api_client.get("/api/registrations/not.a.token/").json()["code"] == "not_found"


def test_the_token_is_the_only_credential_read(api_client, event_factory):
    token = register(api_client, event_factory(), "ada").json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION="Bearer revoked-or-made-up")

    assert api_client.get(place_url(token)).status_code == 200
    assert api_client.delete(place_url(token)).status_code == 204


def test_the_token_never_reaches_the_log(api_client, event_factory, caplog):
    event = event_factory()
    with caplog.at_level(logging.DEBUG):
        token = register(api_client, event, "ada").json()["token"]
        api_client.get(place_url(token))
        api_client.delete(place_url(token))
        api_client.delete(place_url(token))  # 404
    assert token not in caplog.text


def test_a_cancelled_event_refuses_registration_with_409_event_cancelled(api_client, event_factory):
    event = event_factory(status="cancelled")
    for extra in ({}, {"waitlist": True}):
        response = register(api_client, event, "ada", **extra)
        assert response.status_code == 409
        assert response.json()["code"] == "event_cancelled"
