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

import ipaddress
import logging
import math

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

logger = logging.getLogger(__name__)

PER_USER_SCOPES = frozenset({"create"})


def client_address(request) -> str | None:
    """The client's address: REMOTE_ADDR, or with DJANGO_TRUSTED_PROXIES (DRF's NUM_PROXIES) set,
    the X-Forwarded-For entry the outermost trusted proxy appended. Used by the throttles and by
    the admin's sign-in lock-out alike.

    An entry that is not an address (a proxy passing on the client's own text) counts as the
    proxy's address: it must neither buy a fresh budget nor break a sign-in.
    """
    address = BaseThrottle().get_ident(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return request.META.get("REMOTE_ADDR")


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
