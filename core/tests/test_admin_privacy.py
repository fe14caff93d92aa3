"""The admin's part in questions and personal data: questions inline on the event, and staff
erasing a registration."""

import pytest

from core.models import ERASED_NAME, Attendee, ErasureRecord, Event, OutgoingMessage
from core.services import register_attendee
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
