"""Rendered GET answers kept per worker process and reused while the data version stands.

ResponseCacheMiddleware sits near the top of the middleware stack: a hit is answered there,
before the rest of the stack, the URL resolver and DRF run. A view opts a 200 answer in with
`cacheable(response, until=...)`; nothing else is ever stored.

An entry is keyed by the full URL (its query string holds page, filters and `?tz=`) and records
the data version read before the answer was computed. Every committed change to events or
attendees advances that version (core.data_version), so the first request after a write, a
registration answered 201 included, computes afresh. An entry that depends on the clock (the
upcoming list) also expires at the instant `until` names.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone

from core.data_version import data_version

CACHED_PATHS = "/api/events/"


@dataclass(frozen=True)
class Entry:
    version: int
    valid_until: datetime | None
    body: bytes
    headers: tuple[tuple[str, str], ...]

    def response(self) -> HttpResponse:
        response = HttpResponse(self.body)
        for name, value in self.headers:
            response[name] = value
        return response


class ResponseCache:
    """A bounded, thread-safe map from key to Entry, dropping the least recently used."""

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, version: int, now: datetime) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.version != version or (entry.valid_until and now >= entry.valid_until):
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: str, entry: Entry) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


response_cache = ResponseCache(max_entries=1024)


def cacheable(response, until: Callable[[], datetime | None] = lambda: None):
    """Let the middleware keep `response` if it is a 200; `until` is asked only when it does."""
    if response.status_code == 200:
        response.cacheable_until = until
    return response


class ResponseCacheMiddleware:
    """Answers repeated event reads from response_cache; stores the answers views mark."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            request.method != "GET"
            or not request.path_info.startswith(CACHED_PATHS)
            or not settings.API_RESPONSE_CACHE
        ):
            return self.get_response(request)
        # Read before the answer is computed: a write committed meanwhile leaves this entry
        # stale under an old version that no later request will ask for.
        version = data_version()
        if version is None:
            return self.get_response(request)
        key = request.build_absolute_uri()
        entry = response_cache.get(key, version, timezone.now())
        if entry is not None:
            return entry.response()
        response = self.get_response(request)
        until = getattr(response, "cacheable_until", None)
        if until is not None and response.status_code == 200:
            headers = tuple(response.items())
            response_cache.put(key, Entry(version, until(), response.content, headers))
        return response
