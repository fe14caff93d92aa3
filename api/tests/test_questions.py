"""An event's questions over HTTP, and the answers a registration gives them."""

import pytest

from api.questions.serializers import (
    ANSWER_REQUIRED_MESSAGE,
    CHOICES_NEEDED_MESSAGE,
    NOT_A_LIST_MESSAGE,
    NOT_AN_OBJECT_MESSAGE,
    NOT_BOOLEAN_MESSAGE,
    UNKNOWN_QUESTION_MESSAGE,
)
from core.models import Attendee, Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(event_factory, owner):
    return event_factory(owner=owner)


def add(client, event, **fields):
    return client.post(f"/api/events/{event.pk}/questions/", fields, format="json")


def register(client, event, email="ada@example.com", **body):
    return client.post(
        f"/api/events/{event.pk}/register/",
        {"name": "Ada", "email": email, **body},
        format="json",
    )


@pytest.fixture
def diet(owner_client, event):
    body = add(
        owner_client,
        event,
        label="Diet",
        kind="choice",
        choices=["none", "vegan"],
        required=True,
        position=1,
    ).json()
    return body["id"]


@pytest.fixture
def company(owner_client, event):
    return add(owner_client, event, label="Company", kind="text", max_length=5).json()["id"]


def test_the_owner_adds_changes_and_removes_questions(owner_client, event, api_client):
    response = add(owner_client, event, label="T-shirt", kind="multiple_choice", choices=["S", "M"])
    assert response.status_code == 201, response.content
    question = response.json()
    assert question == {
        "id": question["id"],
        "label": "T-shirt",
        "kind": "multiple_choice",
        "choices": ["S", "M"],
        "required": False,
        "max_length": None,
        "position": 0,
    }
    path = f"/api/events/{event.pk}/questions/{question['id']}/"
    changed = owner_client.patch(path, {"required": True}, format="json")
    assert (changed.status_code, changed.json()["required"]) == (200, True)
    assert Event.objects.get(pk=event.pk).requires_answers
    # Anyone reads them: registrants answer them.
    listed = api_client.get(f"/api/events/{event.pk}/questions/").json()
    assert [q["label"] for q in listed["results"]] == ["T-shirt"]
    assert owner_client.delete(path).status_code == 204
    assert not Event.objects.get(pk=event.pk).requires_answers
    again = owner_client.delete(path)
    assert (again.status_code, again.json()["code"]) == (404, "not_found")


def test_only_the_owner_and_staff_write_questions(
    event, api_client, token_client, organiser_factory, staff_factory
):
    body = {"label": "Diet", "kind": "text"}
    anonymous = add(api_client, event, **body)
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    other = add(token_client(organiser_factory()), event, **body)
    assert (other.status_code, other.json()["code"]) == (403, "permission_denied")
    assert add(token_client(staff_factory()), event, **body).status_code == 201
    question = event.questions.get()
    for client, status in ((api_client, 401), (token_client(organiser_factory()), 403)):
        path = f"/api/events/{event.pk}/questions/{question.pk}/"
        assert client.patch(path, {"label": "X"}, format="json").status_code == status
        assert client.delete(path).status_code == status
    assert event.questions.get().label == "Diet"


def test_a_bad_question_is_refused_with_its_field(owner_client, event):
    response = add(owner_client, event, label="Diet", kind="choice")
    assert response.status_code == 400
    assert response.json()["errors"] == {"choices": [CHOICES_NEEDED_MESSAGE]}
    assert add(owner_client, event, label="Diet", kind="colour").status_code == 400
    assert add(owner_client, event, label="Ok", kind="boolean", max_length=3).status_code == 400
    unknown = owner_client.post("/api/events/987654/questions/", {"label": "x", "kind": "text"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    missing = owner_client.patch(f"/api/events/{event.pk}/questions/987654/", {"label": "x"})
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert not event.questions.exists()


def test_answers_are_stored_and_shown_to_the_owner_and_the_attendee_only(
    api_client, owner_client, event, diet, company
):
    answers = {str(diet): "vegan", str(company): " ACME "}
    response = register(api_client, event, answers=answers)
    assert response.status_code == 201, response.content
    stored = {str(diet): "vegan", str(company): "ACME"}
    assert response.json()["answers"] == stored
    token = response.json()["token"]
    assert api_client.get(f"/api/registrations/{token}/").json()["answers"] == stored
    listed = owner_client.get(f"/api/events/{event.pk}/attendees/").json()
    assert listed["results"][0]["answers"] == stored
    # Never to the public.
    assert "vegan" not in api_client.get(f"/api/events/{event.pk}/").content.decode()
    assert "ACME" not in api_client.get("/api/events/").content.decode()


@pytest.mark.parametrize(
    ("answers", "problem"),
    [
        (None, "required"),
        ({}, "required"),
        ({"diet": "tofu"}, "unknown choice"),
        ({"diet": "vegan", "company": "Initech"}, "too long"),
        ({"diet": "vegan", "999999": "x"}, "unknown question"),
        ({"diet": ["vegan"]}, "wrong kind"),
    ],
)
def test_each_bad_answer_is_refused_under_its_question_id(
    api_client, event, diet, company, answers, problem
):
    ids = {"diet": str(diet), "company": str(company)}
    body = {} if answers is None else {"answers": {ids.get(k, k): v for k, v in answers.items()}}
    response = register(api_client, event, **body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    errors = response.json()["errors"]["answers"]
    if problem == "required":
        assert errors == {str(diet): [ANSWER_REQUIRED_MESSAGE]}
    elif problem == "unknown question":
        assert errors == {"999999": [UNKNOWN_QUESTION_MESSAGE]}
    elif problem == "too long":
        assert list(errors) == [str(company)]
        assert "at most 5" in errors[str(company)][0]
    else:
        assert list(errors) == [str(diet)]
    assert not Attendee.objects.exists()


@pytest.mark.parametrize("answers", [["vegan"], "vegan", 1])
def test_answers_that_are_not_an_object_are_refused_on_their_field(api_client, event, answers):
    response = register(api_client, event, answers=answers)
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {"answers": [NOT_AN_OBJECT_MESSAGE]}
    assert not Attendee.objects.exists()


def test_a_null_answer_is_no_answer(api_client, event, diet, company):
    # An optional question left null is not answered; a required one is asked for.
    response = register(api_client, event, answers={str(diet): "none", str(company): None})
    assert response.status_code == 201, response.content
    assert response.json()["answers"] == {str(diet): "none"}
    response = register(api_client, event, "bob@example.com", answers={str(diet): None})
    assert response.status_code == 400, response.content
    assert response.json()["errors"]["answers"] == {str(diet): [ANSWER_REQUIRED_MESSAGE]}


@pytest.fixture
def extras(owner_client, event):
    """A yes-or-no question and a multiple-choice one, both optional: their ids."""
    boolean = add(owner_client, event, label="Parking", kind="boolean").json()["id"]
    several = add(
        owner_client, event, label="Days", kind="multiple_choice", choices=["fri", "sat", "sun"]
    ).json()["id"]
    return str(boolean), str(several)


@pytest.mark.parametrize(
    ("which", "value", "message"),
    [
        (0, "yes", NOT_BOOLEAN_MESSAGE),
        (0, 1, NOT_BOOLEAN_MESSAGE),
        (1, "sat", NOT_A_LIST_MESSAGE),
        (1, ["sat", 7], NOT_A_LIST_MESSAGE),
        (1, ["sat", "mon"], "'mon' is not one of the choices."),
    ],
)
def test_a_yes_or_no_and_a_multiple_choice_answer_are_checked_by_kind(
    api_client, event, extras, which, value, message
):
    response = register(api_client, event, answers={extras[which]: value})
    assert response.status_code == 400, response.content
    assert response.json()["errors"]["answers"] == {extras[which]: [message]}
    assert not Attendee.objects.exists()


def test_a_multiple_choice_answer_is_kept_once_per_choice_in_the_questions_order(
    api_client, event, extras
):
    boolean, several = extras
    response = register(api_client, event, answers={boolean: False, several: ["sun", "fri", "sun"]})
    assert response.status_code == 201, response.content
    assert response.json()["answers"] == {boolean: False, several: ["fri", "sun"]}


def test_changing_a_question_keeps_the_answers_given(api_client, owner_client, event, diet):
    token = register(api_client, event, answers={str(diet): "vegan"}).json()["token"]
    path = f"/api/events/{event.pk}/questions/{diet}/"
    assert owner_client.patch(path, {"choices": ["none", "fish"]}, format="json").status_code == 200
    assert api_client.get(f"/api/registrations/{token}/").json()["answers"] == {str(diet): "vegan"}
    # The removed choice is no longer taken from newcomers.
    refused = register(api_client, event, email="bob@example.com", answers={str(diet): "vegan"})
    assert refused.status_code == 400
    assert owner_client.delete(path).status_code == 204
    assert api_client.get(f"/api/registrations/{token}/").json()["answers"] == {str(diet): "vegan"}
    # No required question left: a registration without answers is taken again.
    assert register(api_client, event, email="bob@example.com").status_code == 201


def test_optional_questions_need_no_answers(api_client, owner_client, event):
    add(owner_client, event, label="Newsletter", kind="boolean")
    response = register(api_client, event)
    assert (response.status_code, response.json()["answers"]) == (201, {})


def test_a_bad_choice_is_named_by_its_place_in_the_list(owner_client, event):
    response = add(owner_client, event, label="Diet", kind="choice", choices=["vegan", " "])
    assert response.status_code == 400
    assert list(response.json()["errors"]["choices"]) == ["1"]


def test_a_required_question_added_while_a_registration_is_on_its_way_is_a_conflict(
    api_client, event
):
    # The registration's statement finds the event asking for answers that its edge, a moment
    # before, found no required question for.
    Event.objects.filter(pk=event.pk).update(requires_answers=True)
    response = register(api_client, event)
    assert (response.status_code, response.json()["code"]) == (409, "answers_required")
    assert not Attendee.objects.exists()
