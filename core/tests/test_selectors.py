"""The named reads: what they answer, and that they answer it without writing."""

import pytest
from django.utils import timezone

from core.exceptions import DomainError
from core.selectors import is_registered, registration_refusal
from core.services import register_attendee

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("spelling", ["ada@example.com", "ADA@Example.com", "  Ada@example.COM "])
def test_is_registered_matches_an_email_whatever_its_case_or_spaces(
    event_factory, attendee_factory, spelling
):
    event = event_factory()
    attendee_factory(event=event, email="Ada@Example.com")

    assert is_registered(event_id=event.pk, email=spelling)


def test_is_registered_looks_at_one_event_only(event_factory, attendee_factory):
    event, other = event_factory(), event_factory()
    attendee_factory(event=other, email="ada@example.com")

    assert not is_registered(event_id=event.pk, email="ada@example.com")
    assert is_registered(event_id=other.pk, email="ada@example.com")


def service_refusal(*, event_id: int, email: str) -> str | None:
    """The code register_attendee refuses with, or None when it registers."""
    try:
        register_attendee(event_id=event_id, name="Grace", email=email)
    except DomainError as error:
        return error.code
    return None


@pytest.mark.parametrize(
    ("capacity", "start_in_days", "email", "registering_before", "refusal"),
    [
        (5, 5, "grace@example.com", 0, None),
        (5, 5, "grace@example.com", 3, None),
        (2, 5, "grace@example.com", 1, "event_full"),
        (1, 5, "grace@example.com", 0, "event_full"),
        (1, 5, " ADA@example.com", 0, "already_registered"),
        (1, -1, "ada@example.com", 0, "registration_closed"),
    ],
    ids=[
        "free",
        "free-after-others",
        "last-seat-taken-by-another-row",
        "full",
        "registered-and-full",
        "closed",
    ],
)
def test_registration_refusal_ranks_reasons_as_the_service_does(
    event_factory,
    attendee_factory,
    in_days,
    capacity,
    start_in_days,
    email,
    registering_before,
    refusal,
):
    event = event_factory(max_capacity=capacity, start_time=in_days(start_in_days))
    attendee_factory(event=event, email="ada@example.com")

    answer = registration_refusal(
        event_id=event.pk, email=email, now=timezone.now(), registering_before=registering_before
    )

    assert (answer.code if answer else None) == refusal
    if registering_before == 0:
        # The read foresees what the service itself then answers.
        assert service_refusal(event_id=event.pk, email=email) == refusal


def test_registration_refusal_of_an_unknown_event():
    answer = registration_refusal(event_id=987654, email="ada@example.com", now=timezone.now())

    assert answer.code == "not_found"
