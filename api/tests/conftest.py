"""Fixtures of the API tests, and the fuzz run's counts printed when the session ends."""

from dataclasses import dataclass, field

import pytest
from rest_framework.test import APIClient

FUZZ_COUNTS = pytest.StashKey["FuzzCounts"]()


@dataclass
class FuzzCounts:
    """What the schema-driven fuzz run did: operations, requests sent, requests that failed."""

    operations: set[str] = field(default_factory=set)
    cases: int = 0
    failures: int = 0


@pytest.fixture(scope="session")
def fuzz_counts(pytestconfig) -> FuzzCounts:
    return pytestconfig.stash.setdefault(FUZZ_COUNTS, FuzzCounts())


def pytest_terminal_summary(terminalreporter, config):
    counts = config.stash.get(FUZZ_COUNTS, None)
    if counts is None:
        return
    from django.db import connection

    terminalreporter.write_sep(
        "=",
        f"fuzz run on {connection.vendor}: {len(counts.operations)} operations, "
        f"{counts.cases} cases, {counts.failures} failures",
    )


@pytest.fixture
def owner(organiser_factory):
    """An organiser who owns the events a test makes for them."""
    return organiser_factory()


@pytest.fixture
def owner_client(owner, token_client):
    return token_client(owner)


def device_client(token: str) -> APIClient:
    """A client that sends a door device's bearer token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def make_device(owner_client):
    """`make_device(event, name)`: a door device made through the API; its client and id."""

    def make(event, name="Gate A"):
        response = owner_client.post(
            f"/api/events/{event.pk}/devices/", {"name": name}, format="json"
        )
        assert response.status_code == 201, response.json()
        return device_client(response.json()["token"]), response.json()["id"]

    return make
