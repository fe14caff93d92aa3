"""Registering attendees and listing them over HTTP."""

from unittest.mock import patch

import pytest
from django.core.validators import EmailValidator

from core.models import Attendee
from core.text import BLANK_TEXT_MESSAGE

pytestmark = pytest.mark.django_db


def register(client, event_id, name="Ada Lovelace", email="ada@example.com"):
    return client.post(
        f"/api/events/{event_id}/register/", {"name": name, "email": email}, format="json"
    )


def test_register(api_client, event_factory):
    event = event_factory(max_capacity=3)

    response = register(api_client, event.pk, email="  ada@example.com ")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id", "event", "name", "email", "status", "position", "registered_at", "answers",
        "token", "ticket"
    }  # fmt: skip
    assert (body["name"], body["email"]) == ("Ada Lovelace", "ada@example.com")
    assert (body["event"], body["status"], body["position"]) == (event.pk, "registered", None)
    assert body["registered_at"].endswith("Z")
    detail = api_client.get(f"/api/events/{event.pk}/").json()
    assert (detail["attendee_count"], detail["seats_available"]) == (1, 2)


def test_register_without_trailing_slash(api_client, event_factory):
    event = event_factory()
    response = api_client.post(
        f"/api/events/{event.pk}/register", {"name": "A", "email": "a@x.io"}, format="json"
    )
    assert response.status_code == 201


def test_full_event_answers_409_event_full(api_client, event_factory):
    event = event_factory(max_capacity=1)
    register(api_client, event.pk, email="first@example.com")

    response = register(api_client, event.pk, email="second@example.com")

    assert response.status_code == 409
    assert response.json()["code"] == "event_full"
    assert response.json()["detail"]


@pytest.mark.parametrize("spelling", ["ADA@EXAMPLE.COM", "  Ada@Example.com  "])
def test_repeat_email_answers_409_already_registered(api_client, event_factory, spelling):
    event = event_factory()
    register(api_client, event.pk)

    response = register(api_client, event.pk, email=spelling)

    assert response.status_code == 409
    assert response.json()["code"] == "already_registered"
    assert Attendee.objects.filter(event=event).count() == 1


def test_started_event_answers_409_registration_closed(api_client, event_factory, in_days):
    event = event_factory(start_time=in_days(-1))
    response = register(api_client, event.pk)
    assert response.status_code == 409
    assert response.json()["code"] == "registration_closed"


def test_unknown_event_answers_404_even_with_a_bad_body(api_client):
    assert register(api_client, 987654).status_code == 404
    response = register(api_client, 987654, email="not-an-email")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("event_id", [2**63 - 1, 2**63, 10**40])
def test_an_id_no_event_can_have_answers_404_whatever_the_body(api_client, event_id):
    for body in ({}, {"answers": {"7": "vegan"}}):
        response = api_client.post(
            f"/api/events/{event_id}/register/",
            {"name": "Ada", "email": "ada@example.com", **body},
            format="json",
        )
        assert (response.status_code, response.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Ada", "email": "not-an-email"}, "email"),
        ({"name": "   ", "email": "ada@example.com"}, "name"),
        ({"name": "x" * 201, "email": "ada@example.com"}, "name"),
        ({"email": "ada@example.com"}, "name"),
        ({"name": "Ada"}, "email"),
        ({"name": "Ada", "email": ("x" * 250) + "@example.com"}, "email"),
    ],
)
def test_invalid_registration_answers_400_with_the_field(api_client, event_factory, body, field):
    event = event_factory()

    response = api_client.post(f"/api/events/{event.pk}/register/", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]
    assert not Attendee.objects.exists()


@pytest.mark.parametrize("name", ["\u200b", "\ufeff \u2060", "\u202e\u2066\u2069\u200e"])
def test_a_name_of_invisible_characters_alone_answers_400_on_name(api_client, event_factory, name):
    event = event_factory()

    response = register(api_client, event.pk, name=name)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"] == {"name": [BLANK_TEXT_MESSAGE]}
    assert not Attendee.objects.exists()


def test_a_visible_name_is_kept_as_written(api_client, event_factory):
    event = event_factory()
    response = register(api_client, event.pk, name=" \U0001f469\u200d\U0001f4bb Ada\u200b ")
    assert response.status_code == 201
    assert response.json()["name"] == "\U0001f469\u200d\U0001f4bb Ada\u200b"


def test_attendees_in_registration_order_and_paginated(api_client, event_factory):
    event = event_factory()
    other = event_factory()
    register(api_client, other.pk, email="elsewhere@example.com")
    emails = [f"guest{i}@example.com" for i in range(25)]
    for email in emails:
        register(api_client, event.pk, email=email)

    first = api_client.get(f"/api/events/{event.pk}/attendees/").json()
    second = api_client.get(f"/api/events/{event.pk}/attendees/", {"page": 2}).json()

    assert first["count"] == 25
    listed = [attendee["email"] for attendee in first["results"] + second["results"]]
    assert listed == emails
    assert set(first["results"][0]) == {"id", "name", "email", "registered_at", "answers"}


def test_attendees_of_unknown_event_is_404(api_client):
    response = api_client.get("/api/events/987654/attendees/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("again", ["idn@xn--bcher-kva.de", "IDN@BÜCHER.DE", "idn@Bücher.de"])
def test_an_internationalised_domain_is_one_mailbox_however_it_is_written(
    api_client, event_factory, again
):
    event = event_factory()

    first = register(api_client, event.pk, email="idn@bücher.de")
    repeat = register(api_client, event.pk, email=again)

    assert first.status_code == 201
    assert first.json()["email"] == "idn@xn--bcher-kva.de"
    assert repeat.status_code == 409
    assert repeat.json()["code"] == "already_registered"
    assert list(Attendee.objects.values_list("email", flat=True)) == ["idn@xn--bcher-kva.de"]


def test_the_local_part_is_kept_as_written(api_client, event_factory):
    event = event_factory()
    response = register(api_client, event.pk, email=" Ada.Lovelace+Events@Example.COM ")
    assert response.status_code == 201
    assert response.json()["email"] == "Ada.Lovelace+Events@example.com"


def test_a_registrations_address_is_checked_once(api_client, event_factory):
    # The serializer's field checks the address; its normalising and the service's take it as
    # checked, where each used to run Django's validator again on the hot path.
    event = event_factory()
    calls = []
    check = EmailValidator.__call__

    def counted(validator, value):
        calls.append(value)
        return check(validator, value)

    with patch.object(EmailValidator, "__call__", counted):
        response = register(api_client, event.pk, email=" Ada@Bücher.DE ")

    assert response.status_code == 201
    assert response.json()["email"] == "Ada@xn--bcher-kva.de"
    assert calls == ["Ada@Bücher.DE"]


LONG_ONCE_IN_ASCII = "x" * 210 + "@" + "ü" * 40 + ".de"  # 254 characters, 260 in ASCII


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("ada@xn--zz.de", "domain"),  # not a valid A-label
        ("ada@☃.example", "domain"),  # a symbol IDNA 2008 does not allow
        ("ada@ab--cd.example", "domain"),  # hyphens where IDNA reserves them
        (LONG_ONCE_IN_ASCII, "at most 254 characters"),
    ],
)
def test_a_domain_with_no_ascii_form_answers_400_on_email(
    api_client, event_factory, email, message
):
    event = event_factory()

    response = register(api_client, event.pk, email=email)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == ["email"]
    assert message in body["errors"]["email"][0]
    assert not Attendee.objects.exists()


def test_unknown_event_answers_404_before_a_bad_domain(api_client):
    response = register(api_client, 987654, email="ada@xn--zz.de")
    assert response.status_code == 404
