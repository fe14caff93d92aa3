"""Rendered GET answers kept per worker process and reused while the data version stands.

An entry is keyed by the full URL (the query string holds page, filters and `?tz=`) and the
active time zone, and records the data version it was computed at. Every committed change
to events or attendees advances that version (core.data_version), so the first request
after a write, a registration answered 201 included, computes afresh. An entry that depends
on the clock (the upcoming list) also expires when the next upcoming event starts.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone

from api.renderers import JSONRenderer
from core.data_version import data_version


@dataclass(frozen=True)
class Entry:
    version: int
    valid_until: datetime | None
    body: bytes


class ResponseCache:
    """A bounded, thread-safe map from key to Entry, dropping the least recently used."""

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, version: int, now: datetime) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.version != version or (entry.valid_until and now >= entry.valid_until):
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry.body

    def put(self, key: tuple, entry: Entry) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


response_cache = ResponseCache(max_entries=1024)


class CachedReadMixin:
    """Serves a view's 200 answers from response_cache while the data version stands."""

    def cached(
        self,
        respond: Callable,
        *,
        now: datetime,
        valid_until: Callable[[datetime], datetime | None] = lambda now: None,
    ):
        version = data_version() if settings.API_RESPONSE_CACHE else None
        if version is None:
            return respond()
        request = self.request
        key = (request.build_absolute_uri(), timezone.get_current_timezone_name())
        body = response_cache.get(key, version, now)
        if body is None:
            response = respond()
            if response.status_code != 200:
                return response
            body = JSONRenderer().render(response.data)
            response_cache.put(key, Entry(version, valid_until(now), body))
        return HttpResponse(body, content_type=JSONRenderer.media_type)
