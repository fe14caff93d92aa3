"""Fixtures shared by every test package."""

import os
import uuid
from datetime import timedelta

import pytest
import redis
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
    from api.caching import count_cache, next_start_cache, response_cache, stream_cache

    caches = (response_cache, count_cache, stream_cache, next_start_cache)
    for cache in caches:
        cache.clear()
    yield
    for cache in caches:
        cache.clear()


@pytest.fixture(autouse=True)
def fresh_direct_registrations():
    """Each test starts with no headers learned for direct registrations: a test's settings
    (the browsable API's Vary: Accept) must not shape the next test's answers."""
    from api.registrations.direct import learned

    learned.forget()
    yield
    learned.forget()


@pytest.fixture(autouse=True)
def fresh_throttle_breaker():
    """Each test starts with the request budgets' cache trusted: a failure one test provoked
    must not leave the next test's budgets uncounted."""
    from api.throttling import breaker

    breaker.reset()
    yield
    breaker.reset()


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


REDIS_START = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis that throttle tests count in: TEST_REDIS_URL, else 127.0.0.1:6379 database 0.

    Without an answer the test skips, or fails when REQUIRE_REDIS=1 (as in CI).
    """
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        reason = (
            f"Redis at {url} does not answer ({error}); install and start it with: "
            f"apt-get install -y redis-server && {REDIS_START}"
        )
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(f"REQUIRE_REDIS=1, but {reason}", pytrace=False)
        pytest.skip(reason)
    return url


@pytest.fixture
def redis_cache(settings, redis_url) -> str:
    """Django's cache on Redis, as REDIS_URL makes it, under a key prefix of this test's own;
    yields the prefix. Only the prefix's keys are removed afterwards: parallel runs share the
    server, so nothing is flushed."""
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,
        }
    }
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def deliver_emails(mailoutbox):
    """`deliver_emails()`: send the queued messages that are due, as the worker
    (`manage.py send_emails`) sends them, until none is left; returns the emails sent (Django's
    locmem outbox)."""
    from core.outbox import send_due_messages

    def deliver() -> list:
        while send_due_messages():
            pass
        return mailoutbox

    return deliver


@pytest.fixture
def receiver(settings):
    """A webhook receiver on 127.0.0.1 (testing/webhooks.py), which the server may deliver to:
    plain http and a loopback address allowed, as in development. Every request it got must
    have verified with the secrets the test gave it, as a careful receiver checks."""
    from testing.webhooks import webhook_receiver

    settings.WEBHOOKS_ALLOW_HTTP = True
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    with webhook_receiver() as receiver:
        yield receiver
    assert receiver.unverified == [], "a webhook did not verify with standardwebhooks"


@pytest.fixture
def deliver_webhooks(mailoutbox):
    """`deliver_webhooks()`: do what the worker does, until nothing is due (at most `rounds`
    claims of each kind): send the due emails, which publishes the registrations' webhook
    messages, then fan out and send the due webhooks."""
    from core.outbox import send_due_messages
    from core.webhooks import deliver_due_webhooks

    def deliver(rounds: int = 50) -> None:
        for _ in range(rounds):
            if not send_due_messages():
                break
        for _ in range(rounds):
            if not deliver_due_webhooks():
                break

    return deliver
