"""The named reads: what they answer, and that they answer it without writing."""

import pytest

from core.selectors import is_registered

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
