"""The registration page an email links to: a GET shows, only the form's POST cancels."""

import pytest
from django.test import Client

from core.models import Attendee, MessageKind, OutgoingMessage
from core.services import register_attendee
from core.tickets import issue_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser() -> Client:
    """A browser: CSRF is checked, as for any visitor."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def registration(event_factory):
    event = event_factory(name="PyCon Berlin", location="Hall A")
    return register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")


def page(registration) -> str:
    return f"/registrations/{registration.token}/"


def test_following_the_link_shows_the_registration_and_changes_nothing(browser, registration):
    messages = OutgoingMessage.objects.count()
    for _ in range(3):  # as a mail scanner, then the attendee, follow it
        response = browser.get(page(registration))
        assert response.status_code == 200
        text = response.content.decode()
        assert "PyCon Berlin" in text
        assert "Hall A" in text
        assert "Ada" in text
        assert "Seat confirmed" in text
        assert '<form method="post">' in text
        assert "csrfmiddlewaretoken" in text
    assert Attendee.objects.filter(pk=registration.attendee.pk).exists()
    assert OutgoingMessage.objects.count() == messages
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"


def test_a_waiting_place_shows_its_position(browser, event_factory):
    event = event_factory(max_capacity=1)
    register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    waiting = register_attendee(
        event_id=event.pk, name="Bob", email="bob@example.com", waitlist=True
    )
    response = browser.get(page(waiting))
    assert "Waiting list, place 1" in response.content.decode()


def test_the_button_cancels_and_the_cancellation_is_emailed(browser, registration):
    form = browser.get(page(registration))
    token = form.context["csrf_token"]
    response = browser.post(page(registration), {"csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert "Registration cancelled" in response.content.decode()
    assert not Attendee.objects.exists()
    assert OutgoingMessage.objects.filter(kind=MessageKind.CANCELLED).count() == 1

    again = browser.post(page(registration), {"csrfmiddlewaretoken": token})
    assert again.status_code == 404
    assert "No such registration" in again.content.decode()


def test_a_post_without_the_pages_csrf_token_cancels_nothing(browser, registration):
    response = browser.post(page(registration))
    assert response.status_code == 403
    assert Attendee.objects.filter(pk=registration.attendee.pk).exists()


def test_an_unknown_token_is_a_404_page(browser):
    response = browser.get("/registrations/not-a-real-token/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "No such registration" in response.content.decode()


def test_a_pending_request_reads_as_awaiting_approval(browser, event_factory):
    event = event_factory(requires_approval=True)
    pending = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    text = browser.get(page(pending)).content.decode()
    assert "Awaiting the organiser's approval" in text
    assert "Seat confirmed" not in text


def test_a_seat_shows_its_ticket_as_a_qr_code_and_a_waiting_place_none(browser, event_factory):
    event = event_factory(max_capacity=1)
    seat = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    waiting = register_attendee(
        event_id=event.pk, name="Bob", email="bob@example.com", waitlist=True
    )

    seat_page = browser.get(page(seat)).content.decode()
    waiting_page = browser.get(page(waiting)).content.decode()

    assert issue_ticket(event_id=event.pk, registration_id=seat.attendee.pk) in seat_page
    assert "<svg" in seat_page
    assert "Your ticket" not in waiting_page
    assert "<svg" not in waiting_page
