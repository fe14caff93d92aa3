"""Fixtures shared by every test package."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from core.tests.factories import AttendeeFactory, EventFactory


@pytest.fixture(autouse=True)
def response_cache_only_where_asked(request, settings):
    """Tests see every write at once unless they test the response cache itself.

    A test's writes never commit, so they never advance the data version the cache
    follows; tests marked `response_cache` commit for real (transactional_db).
    """
    from api.caching import response_cache

    response_cache.clear()
    settings.API_RESPONSE_CACHE = request.node.get_closest_marker("response_cache") is not None
    yield
    response_cache.clear()


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
def fast_passwords(settings):
    """Staff users whose passwords hash in microseconds: tests need logins, not brute-force cost."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def in_days():
    """`in_days(n)`: an aware datetime n days from now (negative for the past)."""
    return lambda days, **extra: timezone.now() + timedelta(days=days, **extra)
