"""The admin's part in questions and personal data: questions inline on the event, and staff
erasing a registration."""

import pytest

from core.models import ERASED_NAME, Attendee, ErasureRecord, Event, OutgoingMessage
from core.services import erase_registrations, register_attendee, update_event
from core.tests.admin_pages import errors, event_form

pytestmark = pytest.mark.django_db


def test_staff_add_and_remove_questions_inline_on_the_event(admin_client, event_factory):
    event = event_factory()
    url = f"/admin/core/event/{event.pk}/change/"
    diet = {"label": "Diet", "kind": "choice", "choices": "none\nvegan", "required": "on"}
    response = admin_client.post(url, event_form(event, new_questions=[diet]))
    assert response.status_code == 302, errors(response)
    question = event.questions.get()
    assert (question.label, question.choices, question.required) == (
        "Diet",
        ["none", "vegan"],
        True,
    )
    assert Event.objects.get(pk=event.pk).requires_answers

    form = event_form(event)
    form["questions-0-DELETE"] = "on"
    assert admin_client.post(url, form).status_code == 302
    assert not event.questions.exists()
    assert not Event.objects.get(pk=event.pk).requires_answers


def test_a_choice_question_without_choices_is_refused_inline(admin_client, event_factory):
    event = event_factory()
    bad = {"label": "Diet", "kind": "choice", "choices": ""}
    response = admin_client.post(
        f"/admin/core/event/{event.pk}/change/", event_form(event, new_questions=[bad])
    )
    assert response.status_code == 200
    assert "A choice question needs at least one choice." in errors(response)
    assert not event.questions.exists()


def test_staff_erase_a_registration_keeping_its_seat(admin_client, event_factory):
    event = event_factory(max_capacity=5)
    ada = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com").attendee
    register_attendee(event_id=event.pk, name="Bob", email="bob@example.com")

    response = admin_client.post(
        "/admin/core/attendee/",
        {"action": "erase_personal_data", "_selected_action": [str(ada.pk)]},
    )

    assert response.status_code == 302
    ada.refresh_from_db()
    assert (ada.name, ada.email) == (ERASED_NAME, f"erased-{ada.pk}@erased.invalid")
    assert ada.erased_at is not None
    assert Event.objects.get(pk=event.pk).seats_taken == 2
    assert Attendee.objects.filter(email="bob@example.com").exists()
    assert not OutgoingMessage.objects.filter(email="ada@example.com").exists()
    assert OutgoingMessage.objects.filter(email="bob@example.com").exists()
    record = ErasureRecord.objects.get()
    assert (record.event_id, record.count, record.reason) == (event.pk, 1, "staff")


def test_staff_approve_and_decline_pending_requests(admin_client, event_factory, deliver_emails):
    event = event_factory(max_capacity=1, requires_approval=True)
    ada, bob, cy = (
        register_attendee(
            event_id=event.pk, name=name, email=f"{name.lower()}@example.com"
        ).attendee
        for name in ("Ada", "Bob", "Cy")
    )

    approved = admin_client.post(
        "/admin/core/attendee/",
        {"action": "approve_requests", "_selected_action": [str(ada.pk), str(bob.pk)]},
    )
    declined = admin_client.post(
        "/admin/core/attendee/",
        {"action": "decline_requests", "_selected_action": [str(cy.pk)]},
    )

    assert (approved.status_code, declined.status_code) == (302, 302)
    statuses = dict(Attendee.objects.filter(event=event).values_list("email", "status"))
    assert statuses == {"ada@example.com": "registered", "bob@example.com": "waitlisted"}
    event.refresh_from_db()
    assert (event.seats_taken, event.waitlist_taken) == (1, 1)
    kinds = OutgoingMessage.objects.filter(event=event).values_list("email", "kind")
    assert ("cy@example.com", "declined") in set(kinds)


def test_the_event_page_lists_its_pending_requests_with_answers(admin_client, event_factory):
    event = event_factory(requires_approval=True)
    register_attendee(
        event_id=event.pk, name="Ada", email="ada@example.com", answers={"3": "vegan"}
    )
    response = admin_client.get(f"/admin/core/event/{event.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "requests awaiting approval" in page.lower()
    assert "ada@example.com" in page
    assert "vegan" in page
    # Saved as it is, the page changes nothing.
    assert (
        admin_client.post(f"/admin/core/event/{event.pk}/change/", event_form(event)).status_code
        == 302
    )
    assert Attendee.objects.get(email="ada@example.com").status == "pending"


def test_staff_read_the_record_of_erasures_without_the_data(admin_client, event_factory):
    event = event_factory()
    ada = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com").attendee
    admin_client.post(
        "/admin/core/attendee/",
        {"action": "erase_personal_data", "_selected_action": [str(ada.pk)]},
    )
    response = admin_client.get("/admin/core/erasurerecord/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "staff" in page
    assert "ada@example.com" not in page
    record = ErasureRecord.objects.get()
    assert admin_client.post(f"/admin/core/erasurerecord/{record.pk}/delete/").status_code == 403


def test_no_email_goes_to_an_erased_registration(admin_client, event_factory, deliver_emails):
    event = event_factory()
    ada = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com").attendee
    register_attendee(event_id=event.pk, name="Bob", email="bob@example.com")
    deliver_emails()
    erase_registrations(event_id=event.pk, attendee_ids=[ada.pk], reason="staff")

    update_event(event_id=event.pk, location="Hall Z")

    sent = deliver_emails()[2:]
    assert [email.to for email in sent] == [["Bob <bob@example.com>"]]
    assert OutgoingMessage.objects.get(attendee_id=ada.pk, kind="event_changed").status == (
        "skipped"
    )
