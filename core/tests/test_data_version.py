"""The data version moves once per committed write, and only after the commit."""

import pytest
from django.db import DatabaseError, connection, transaction

from core import data_version as versions
from core.services import register_attendee

pytestmark = pytest.mark.django_db(transaction=True)

KEPT_HERE = connection.vendor == "postgresql"


def test_the_first_write_after_a_fresh_start_moves_the_version(event_factory):
    if KEPT_HERE:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER SEQUENCE {versions.SEQUENCE} RESTART")
    before = versions.data_version()

    event_factory()

    after = versions.data_version()
    if KEPT_HERE:
        assert after > before
    else:  # SQLite keeps no version, so nothing can be cached against one
        assert before is after is None


def test_many_changes_in_one_transaction_advance_it_once(event_factory):
    before = versions.data_version()
    with transaction.atomic():
        for _ in range(5):
            event_factory()
        pending = [c for _, c, _ in connection.run_on_commit if c is versions._advance]
        assert len(pending) == (1 if KEPT_HERE else 0)
    if KEPT_HERE:
        assert versions.data_version() == before + 1


def test_a_failed_advance_retries_and_never_fails_the_committed_write(event_factory, monkeypatch):
    event = event_factory()
    before = versions.data_version()
    real_next_value, calls = versions._next_value, []

    def fail_once():
        calls.append(1)
        if len(calls) == 1:
            raise DatabaseError("connection lost")
        real_next_value()

    monkeypatch.setattr(versions, "_next_value", fail_once)

    attendee = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")

    assert attendee.pk is not None
    if KEPT_HERE:
        assert len(calls) == 2
        assert versions.data_version() > before
