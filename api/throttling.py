"""Request budgets per scope, counted in Django's cache so every worker spends from one budget.

A view names its budget with `throttle_scope`; the rates are REST_FRAMEWORK's
DEFAULT_THROTTLE_RATES. Scopes in PER_USER_SCOPES are counted per signed-in user, every other
scope per client address (anonymous callers of a per-user scope too). `settings.API_THROTTLE`
turns every budget off.

The window slides: a rate of N per D lets through at most N requests in ANY span of D seconds,
wherever it starts, so no window boundary lets a client spend two budgets back to back. Each
client's requests are counted in buckets of D/BUCKETS seconds (raised with the cache's atomic
`incr`, so concurrent requests at several workers cannot each slip through); a request is let
through when the buckets that may hold requests of the last D seconds (the oldest one whole, so
the sum is never an underestimate) hold fewer than N. A refused request is not counted: a
client that keeps asking gets its budget back as its accepted requests age out.

When the cache fails (Redis down or frozen), requests go through uncounted, and for
THROTTLE_CACHE_RETRY_SECONDS no request asks the cache again: one request per process pays the
cache's timeout, not every request.
"""

import logging
import math
import threading
import time

from django.conf import settings
from django.shortcuts import render
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

# Also named by settings.AXES_CLIENT_IP_CALLABLE, so the admin's lock-out counts per the same
# address as the budgets.
from event_management_system.ops.clients import client_address

logger = logging.getLogger(__name__)

PER_USER_SCOPES = frozenset({"create", "organise"})
# The WSGI environ key naming the budget a request spent before Django saw it (a registration
# api/registrations/direct.py hands on after spending): it is not spent twice.
SPENT_SCOPE = "events.throttle_scope_spent"
# Buckets per window: a refused client may wait up to one bucket (a tenth of the window) longer
# than an exact log would make it, the price of a fixed number of counters per client.
BUCKETS = 10
CACHE_FAILED_MESSAGE = "Throttle cache unreachable, request budgets cannot be counted for %s s: %s"


class CacheBreaker:
    """Whether the cache may be asked: not for `retry_seconds` after it failed, then by one
    request at a time until one succeeds."""

    def __init__(self):
        self._lock = threading.Lock()
        self._closed_until = 0.0

    def failed(self, error: Exception) -> None:
        retry = settings.THROTTLE_CACHE_RETRY_SECONDS
        with self._lock:
            already_open = time.monotonic() < self._closed_until
            self._closed_until = time.monotonic() + retry
        if not already_open:
            logger.error(CACHE_FAILED_MESSAGE, retry, error)

    def probe(self) -> bool:
        """After the pause, claims the one request that tries the cache again (the pause is
        extended for the others meanwhile); False if another request has claimed it."""
        with self._lock:
            now = time.monotonic()
            if now < self._closed_until:
                return False
            if self._closed_until:
                self._closed_until = now + settings.THROTTLE_CACHE_RETRY_SECONDS
            return True

    def succeeded(self) -> None:
        if self._closed_until:
            with self._lock:
                self._closed_until = 0.0

    def reset(self) -> None:
        with self._lock:
            self._closed_until = 0.0


breaker = CacheBreaker()


class ScopedThrottle(SimpleRateThrottle):
    """Refuses a request once its client has spent the view's `throttle_scope` budget within the
    last window, however it is placed."""

    cache_format = "throttle:%(scope)s:%(ident)s:%(bucket)d"

    def __init__(self):
        # The rate depends on the view's scope, known only when the view asks.
        pass

    def allow_request(self, request, view) -> bool:
        self.scope = getattr(view, "throttle_scope", None)
        if not settings.API_THROTTLE or not self.scope:
            return True
        if request.META.get(SPENT_SCOPE) == self.scope:
            return True
        # Read at each request, not once at import, so a changed setting takes effect.
        self.rate = api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.now = self.timer()
        if not breaker.probe():
            return True  # the cache failed a moment ago: fail open without waiting for it
        try:
            allowed = self._spend(self._ident(request))
        except RedisError as error:
            # A budget that cannot be counted is not a reason to refuse the API to everyone.
            breaker.failed(error)
            return True
        breaker.succeeded()
        return allowed

    def wait(self) -> float:
        return self.retry_after

    def _ident(self, request) -> str:
        if self.scope in PER_USER_SCOPES and request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"address:{client_address(request)}"

    def _spend(self, ident: str) -> bool:
        """Count this request in its bucket; take it back and refuse if the last window then
        holds more than the budget (setting `retry_after`)."""
        width = self.duration / BUCKETS
        current = int(self.now // width)
        buckets = range(current - BUCKETS, current + 1)
        keys = {
            bucket: self.cache_format % {"scope": self.scope, "ident": ident, "bucket": bucket}
            for bucket in buckets
        }
        earlier = self.cache.get_many([keys[bucket] for bucket in buckets[:-1]])
        counts = [int(earlier.get(keys[bucket], 0)) for bucket in buckets[:-1]]
        mine = self._count(keys[current], timeout=math.ceil(self.duration + 2 * width))
        if sum(counts) + mine <= self.num_requests:
            return True
        self.cache.decr(keys[current])
        # The budget comes back once enough of the oldest buckets have left the window.
        excess = sum(counts) + mine - self.num_requests
        last_to_leave = current
        for bucket, count in zip(buckets, [*counts, mine - 1], strict=True):
            excess -= count
            if excess <= 0:
                last_to_leave = bucket
                break
        leaves_at = (last_to_leave + 1) * width + self.duration
        self.retry_after = max(1, math.ceil(leaves_at - self.now))
        return False

    def _count(self, key: str, *, timeout: int) -> int:
        """This request's number in its bucket, the bucket's count raised atomically."""
        if self.cache.add(key, 1, timeout):
            return 1
        try:
            return self.cache.incr(key)
        except ValueError:  # expired or evicted between add and incr
            self.cache.set(key, 1, timeout)
            return 1


def budgeted_posts(view, *, scope: str):
    """`view` (a plain Django view, such as a page's form) with each POST spending the `scope`
    budget like an API request; over it, a 429 page with Retry-After."""
    budget = type("Budget", (), {"throttle_scope": scope})()

    def budgeted(request, *args, **kwargs):
        if request.method == "POST":
            throttle = ScopedThrottle()
            if not throttle.allow_request(request, budget):
                retry_after = math.ceil(throttle.wait())
                response = render(
                    request,
                    "registrations/throttled.html",
                    {"retry_after": retry_after},
                    status=429,
                )
                response["Retry-After"] = str(retry_after)
                response["Cache-Control"] = "no-store"
                return response
        return view(request, *args, **kwargs)

    return budgeted
