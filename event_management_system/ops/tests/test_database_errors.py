"""Database errors counted by kind, where the API answers them with 503: real lock waits and
statements past their timeouts, held by another PostgreSQL session."""

import pytest
from django.db import connection

from event_management_system.ops.metrics import DATABASE_ERROR_KINDS
from event_management_system.ops.tests.scraping import scrape, value
from event_management_system.tests.test_database_faults import (  # noqa: F401 - fixture
    holding,
    reconnect,
)

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's timeouts"),
    pytest.mark.django_db(transaction=True),
]


def kinds(client) -> dict[str, float]:
    text = scrape(client)
    return {
        kind: value(text, "events_database_errors_total", kind=kind)
        for kind in DATABASE_ERROR_KINDS
    }


def test_a_lock_timeout_is_counted_as_one(client, event_factory, reconnect):  # noqa: F811
    event = event_factory()
    reconnect(lock_timeout=0.3)
    before = kinds(client)

    with holding("SELECT id FROM core_event WHERE id = %s FOR UPDATE", event.pk):
        response = client.post(
            f"/api/events/{event.pk}/register/",
            {"name": "Ada", "email": "ada@example.com"},
            content_type="application/json",
        )
    after = kinds(client)

    assert response.status_code == 503
    assert {kind: after[kind] - before[kind] for kind in DATABASE_ERROR_KINDS} == {
        "lock_timeout": 1,
        "statement_timeout": 0,
        "deadlock": 0,
        "serialization_failure": 0,
        "unavailable": 0,
    }


def test_a_statement_timeout_is_counted_as_one(client, event_factory, reconnect):  # noqa: F811
    event_factory()
    reconnect(statement_timeout=0.5, lock_timeout=0)
    before = kinds(client)

    with holding("LOCK TABLE core_event IN ACCESS EXCLUSIVE MODE"):
        response = client.get("/api/events/")
    after = kinds(client)

    assert response.status_code == 503
    assert after["statement_timeout"] - before["statement_timeout"] == 1
    assert sum(after.values()) - sum(before.values()) == 1
