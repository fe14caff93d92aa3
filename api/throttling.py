"""Request budgets per scope, counted in Django's cache so every worker spends from one budget.

A view names its budget with `throttle_scope`; the rates are REST_FRAMEWORK's
DEFAULT_THROTTLE_RATES. Scopes in PER_USER_SCOPES are counted per signed-in user, every other
scope per client address (anonymous callers of a per-user scope too). `settings.API_THROTTLE`
turns every budget off.

Requests are counted in fixed windows (a minute for `60/min`) with the cache's atomic `incr`:
concurrent requests at several workers cannot read the same count and each slip through, as
they can with DRF's own read-then-write history. The price is that a client may spend a budget
at the end of one window and another at the start of the next.
"""

import logging
import math

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

# Also named by settings.AXES_CLIENT_IP_CALLABLE, so the admin's lock-out counts per the same
# address as the budgets.
from event_management_system.ops.clients import client_address

logger = logging.getLogger(__name__)

PER_USER_SCOPES = frozenset({"create"})


class ScopedThrottle(SimpleRateThrottle):
    """Refuses a request once its client has spent the view's `throttle_scope` budget."""

    cache_format = "throttle:%(scope)s:%(ident)s:%(window)d"

    def __init__(self):
        # The rate depends on the view's scope, known only when the view asks.
        pass

    def allow_request(self, request, view) -> bool:
        self.scope = getattr(view, "throttle_scope", None)
        if not settings.API_THROTTLE or not self.scope:
            return True
        # Read at each request, not once at import, so a changed setting takes effect.
        self.rate = api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        key = self.cache_format % {
            "scope": self.scope,
            "ident": self._ident(request),
            "window": window,
        }
        try:
            return self._count(key) <= self.num_requests
        except RedisError as error:
            # A budget that cannot be counted is not a reason to refuse the API to everyone.
            logger.error("Throttle cache unreachable, request budgets cannot be counted: %s", error)
            return True

    def wait(self) -> float:
        return math.ceil(self.window_end - self.now)

    def _ident(self, request) -> str:
        if self.scope in PER_USER_SCOPES and request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"address:{client_address(request)}"

    def _count(self, key: str) -> int:
        """This request's number in its window, the window's count raised atomically."""
        # The key outlives its window by a full window: no worker whose clock lags a little
        # can raise a count that has just expired and so recreate it with no expiry.
        timeout = math.ceil(self.window_end - self.now) + self.duration
        if self.cache.add(key, 1, timeout):
            return 1
        try:
            return self.cache.incr(key)
        except ValueError:  # expired or evicted between add and incr
            self.cache.set(key, 1, timeout)
            return 1
