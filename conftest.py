"""Fixtures shared by every test package."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from core.tests.factories import (
    AttendeeFactory,
    EventFactory,
    OrganiserFactory,
    StaffFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def fresh_response_cache():
    """Each test starts with empty caches: entries computed in one test's transaction, which
    is rolled back, must not answer the next test. The cache stays on, as it is by default."""
    from api.caching import count_cache, response_cache

    response_cache.clear()
    count_cache.clear()
    yield
    response_cache.clear()
    count_cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def event_factory():
    return EventFactory


@pytest.fixture
def attendee_factory():
    return AttendeeFactory


@pytest.fixture
def user_factory():
    return UserFactory


@pytest.fixture
def organiser_factory():
    return OrganiserFactory


@pytest.fixture
def staff_factory():
    return StaffFactory


@pytest.fixture
def token_client():
    """`token_client(user)`: an APIClient that sends a fresh bearer token of `user`."""
    from api.tokens import issue_token

    def client_for(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(user=user).token}")
        return client

    return client_for


@pytest.fixture
def fast_passwords(settings):
    """Staff users whose passwords hash in microseconds: tests need logins, not brute-force cost."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def in_days():
    """`in_days(n)`: an aware datetime n days from now (negative for the past)."""
    return lambda days, **extra: timezone.now() + timedelta(days=days, **extra)
