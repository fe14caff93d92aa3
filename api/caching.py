"""Rendered GET answers and list counts, kept per worker process and reused while their
change versions (core.versions) read back unchanged.

ResponseCacheMiddleware sits near the top of the middleware stack. A view opts a 200 answer in
with `cacheable(response, stamp=...)`, naming what the answer was computed from: an event's row
(its detail, its attendee pages) or a page of events plus the catalog (a list page). The
middleware computes a miss inside one read-only snapshot and records, from that same snapshot,
the versions the stamp names. A later request for the same URL reads those versions back in
one small query and, if none moved, gets the stored bytes before the rest of the stack runs.

Every committed change moves a version in the same transaction (PostgreSQL triggers,
core/sql/versions.py), whoever makes it: the API, the admin, a queryset update or bulk insert,
another process, or psql. So an answer is never older than a committed write, and a
registration moves only its own event's version: the list pages that do not show that event
stay cached. An answer that depends on the clock (the upcoming list) also expires when the next
event starts.

Only anonymous JSON requests are answered from, or stored in, the cache: an answer computed for
a principal (a bearer token, a session) may differ from what anyone else may see, and a browser
may be shown the browsable API's page instead of JSON, so neither is ever kept. Every API answer
says `Vary: Authorization, Cookie` (and `Accept` while the browsable API is on) for caches
downstream.

When an answer is found outdated, one thread of the worker computes it again while the others
asking for it wait (RECOMPUTE_PATIENCE at most), then read the versions of what it kept: a
registration that outdates a list page costs each worker one computation of it, not one per
thread that asked meanwhile.

On databases that keep no versions (SQLite) every answer is computed afresh. Hits and misses
are counted in the metrics (`events_response_cache_requests_total`, ops.metrics).
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from api.exceptions import UNAVAILABLE_ERRORS, service_unavailable_response
from core.selectors import next_start
from core.versions import Stamp, catalog_version, read_versions, snapshot, versions_kept
from event_management_system.ops.metrics import CACHE_HITS, CACHE_MISSES
from event_management_system.ops.requests import HEADER as REQUEST_ID_HEADER
from event_management_system.ops.requests import (
    STARTED,
    MetaOnly,
    begin_request,
    client_of,
    record_answer,
    route_of_path,
)
from event_management_system.paths import API_PREFIX

CACHED_PATHS = (f"{API_PREFIX}events/", f"{API_PREFIX}events.ics")
# What decides who is asking, and so what an answer may show.
PRINCIPAL_HEADERS = ("Authorization", "Cookie")

Until = Callable[[], datetime | None]
# The WSGI environ key under which CachedAnswers hands the stack the database error its version
# read met: the stack answers that request 503 at once, without waiting on the database again.
VERSION_READ_FAILED = "events.version_read_failed"
# The entry CachedAnswers found outdated (its versions moved): the middleware does not read
# them again for it, and computes the answer.
FOUND_OUTDATED = "events.cached_entry_outdated"
# How long a request waits for another thread computing the same outdated answer before it
# computes it itself: many times a computation (milliseconds), well within a read's bound.
RECOMPUTE_PATIENCE = 1.0


def plainly_anonymous(environ) -> bool:
    """Whether a WSGI request names no principal: no `Authorization`, no cookie of any name.
    What the front pieces answer before Django (CachedAnswers, DirectRegistrations) ask first."""
    return "HTTP_AUTHORIZATION" not in environ and "HTTP_COOKIE" not in environ


def caching_on() -> bool:
    return settings.API_RESPONSE_CACHE and versions_kept()


class LeastRecentlyUsed:
    """A bounded, thread-safe map that forgets the least recently used key first."""

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable):
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._entries)


@dataclass
class Entry:
    """A rendered answer, the versions it was computed at, and when the clock retires it."""

    stamp: Stamp
    versions: tuple
    valid_until: datetime | None
    body: bytes
    headers: dict[str, str]
    # The status line and headers the whole middleware stack sent with this body (its request
    # id left out), once one answer has gone out through it: what CachedAnswers replays.
    sent_headers: list[tuple[str, str]] | None = None

    def expired(self, now: datetime) -> bool:
        return self.valid_until is not None and now >= self.valid_until

    def response(self) -> HttpResponse:
        return HttpResponse(self.body, headers=self.headers)


@dataclass(frozen=True)
class CountEntry:
    """A list's row count at one catalog version, and when the clock retires it."""

    catalog_version: int
    valid_until: datetime | None
    count: int


class OneAtATime:
    """Per key, one thread at a time: a lock for each key someone holds or waits for, dropped
    when the last of them is done."""

    def __init__(self):
        self._guard = threading.Lock()
        self._locks: dict[Hashable, tuple[threading.Lock, int]] = {}

    @contextmanager
    def turn(self, key: Hashable, patience: float) -> Iterator[None]:
        """The block runs once no other thread runs it for `key`, or after `patience` seconds
        of waiting, whichever comes first."""
        with self._guard:
            lock, users = self._locks.get(key, (None, 0))
            lock = lock or threading.Lock()
            self._locks[key] = (lock, users + 1)
        acquired = lock.acquire(timeout=patience)
        try:
            yield
        finally:
            if acquired:
                lock.release()
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        with self._guard:
            return len(self._locks)


recomputing = OneAtATime()
response_cache = LeastRecentlyUsed(max_entries=1024)
# Streamed answers (the iCalendar feed, up to a few MB each) are kept apart, and fewer of them:
# a client varying the query string must not fill a worker's memory with feeds.
stream_cache = LeastRecentlyUsed(max_entries=16)
count_cache = LeastRecentlyUsed(max_entries=1024)


def answer_key(meta) -> tuple | None:
    """What an anonymous GET's answer depends on, read from its WSGI environ (a request's META):
    the scheme and host it was asked under (pagination links are absolute), the path and the
    query string. None for a path or query that is not ASCII, which the cache never keeps:
    Django decodes a path in META, so such a key would read differently before and after."""
    path, query = meta.get("PATH_INFO", ""), meta.get("QUERY_STRING", "")
    if not (path.isascii() and query.isascii()):
        return None
    proxy_scheme = settings.SECURE_PROXY_SSL_HEADER
    return (
        meta.get("wsgi.url_scheme"),
        meta.get(proxy_scheme[0]) if proxy_scheme else None,
        meta.get("HTTP_HOST") or meta.get("SERVER_NAME"),
        meta.get("HTTP_X_FORWARDED_HOST") if settings.USE_X_FORWARDED_HOST else None,
        meta.get("HTTP_X_FORWARDED_PORT") if settings.USE_X_FORWARDED_PORT else None,
        meta.get("SERVER_PORT"),
        meta.get("SCRIPT_NAME", ""),
        path,
        query,
    )


def cacheable(response, *, stamp: Stamp, until: Until = lambda: None):
    """Let the middleware keep `response` if it is a 200; `until` is asked only when it does."""
    if response.status_code == 200:
        response.cache_stamp = (stamp, until)
    return response


def catalog_version_kept() -> int | None:
    """The event catalog's version, for what is kept at it (a list's count, the next start);
    None when nothing is kept. Read it before computing what it keeps: a change committed in
    between leaves the answer under an old version that no reader after that commit asks for."""
    return catalog_version() if caching_on() else None


def cached_count(key: Hashable, queryset: QuerySet, until: Until, version: int | None) -> int:
    """`queryset.count()`, reused while the event catalog stands at `version` (from
    catalog_version_kept) and the clock allows.

    A registration changes seats, never which events a list holds, so it costs no recount.
    """
    if version is None:
        return queryset.count()
    entry = count_cache.get(key)
    if (
        entry is not None
        and entry.catalog_version == version
        and (entry.valid_until is None or timezone.now() < entry.valid_until)
    ):
        return entry.count
    count = queryset.count()
    count_cache.put(key, CountEntry(version, until(), count))
    return count


@dataclass(frozen=True)
class NextStart:
    """The soonest upcoming start as computed at `computed_at`, at one catalog version."""

    catalog_version: int
    computed_at: datetime
    value: datetime | None

    def holds(self, version: int, now: datetime) -> bool:
        # With the catalog unchanged no event came, went or moved; until the clock reaches the
        # soonest start, no other can be sooner.
        return (
            version == self.catalog_version
            and self.computed_at <= now
            and (self.value is None or now < self.value)
        )


class KeptNextStart:
    """The soonest upcoming start last computed in this worker process (the list's expiry)."""

    def __init__(self):
        self._kept: NextStart | None = None

    def get(self, now: datetime, version: int | None) -> datetime | None:
        """core.selectors.next_start(now), reused while the event catalog stands at `version`
        (from catalog_version_kept) and that start is still ahead: a list recomputed because
        a registration moved one of its events costs no query for it."""
        kept = self._kept  # one read: another thread may replace it meanwhile
        if version is not None and kept is not None and kept.holds(version, now):
            return kept.value
        value = next_start(now=now)
        if version is not None:
            self._kept = NextStart(version, now, value)
        return value

    def clear(self) -> None:
        self._kept = None


next_start_cache = KeptNextStart()


class ResponseCacheMiddleware:
    """Answers repeated event reads from response_cache; stores the answers views mark."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        if (failed := request.META.get(VERSION_READ_FAILED)) is not None:
            return self._varied(service_unavailable_response(failed))
        if (
            request.method != "GET"
            or not request.path_info.startswith(CACHED_PATHS)
            or self._has_principal(request)
            or self._asks_for_a_page(request)
            or not caching_on()
        ):
            return self._varied(self.get_response(request))
        key = answer_key(request.META)
        if key is None:
            return self._varied(self.get_response(request))
        cache = self._cache_for(request)
        try:
            entry = cache.get(key)
            if (
                entry is not None
                and entry is not request.META.get(FOUND_OUTDATED)
                and not entry.expired(timezone.now())
                and read_versions(entry.stamp) == entry.versions
            ):
                CACHE_HITS.inc()
                return entry.response()
            CACHE_MISSES.inc()
            with snapshot():
                response = self._varied(self.get_response(request))
                self._keep(cache, key, response)
        except UNAVAILABLE_ERRORS as error:
            return self._varied(service_unavailable_response(error))
        return response

    @staticmethod
    def _has_principal(request) -> bool:
        return (
            "HTTP_AUTHORIZATION" in request.META or settings.SESSION_COOKIE_NAME in request.COOKIES
        )

    @staticmethod
    def _asks_for_a_page(request) -> bool:
        return settings.API_BROWSABLE and "text/html" in request.headers.get("Accept", "")

    @staticmethod
    def _varied(response):
        patch_vary_headers(response, PRINCIPAL_HEADERS)
        if settings.API_BROWSABLE:
            patch_vary_headers(response, ["Accept"])
        return response

    @staticmethod
    def _cache_for(request) -> LeastRecentlyUsed:
        return stream_cache if request.path_info.endswith(".ics") else response_cache

    @classmethod
    def _keep(cls, cache: LeastRecentlyUsed, key: tuple, response) -> None:
        marked = getattr(response, "cache_stamp", None)
        if marked is None or response.status_code != 200:
            return
        stamp, until = marked
        # Read in the snapshot the view read in: what it has read so far is of these versions.
        versions = read_versions(stamp)
        if response.streaming:
            response.streaming_content = cls._kept_once_streamed(
                cache,
                key,
                response,
                response.streaming_content,
                Entry(stamp, versions, until(), b"", {}),
            )
            return
        cache.put(key, Entry(stamp, versions, until(), response.content, dict(response.items())))

    @staticmethod
    def _kept_once_streamed(
        cache: LeastRecentlyUsed, key: tuple, response, streamed: Iterator[bytes], entry: Entry
    ):
        """`response`'s pieces, passed on as they come (its rows are read, a chunk per query,
        after the snapshot has ended), and kept whole once the last has gone out, if the versions
        read back unchanged: then no change was committed while the rows were read, and the
        answer is what the snapshot's versions show. A stream cut short is never kept."""
        pieces = []
        for piece in streamed:
            pieces.append(piece)
            yield piece
        if read_versions(entry.stamp) != entry.versions:
            return
        headers = {**dict(response.items()), "Content-Length": str(sum(map(len, pieces)))}
        cache.put(
            key, Entry(entry.stamp, entry.versions, entry.valid_until, b"".join(pieces), headers)
        )


class CachedAnswers:
    """WSGI: answers a repeated anonymous event read from response_cache before Django builds a
    request, when its versions read back unchanged; hands every other request to `app`.

    It replays what the whole stack sent the first time the entry went out through it (status,
    headers, body; a fresh request id), so an answer is the same byte for byte whichever way it
    comes; until then, and for any request that is not plainly anonymous (a cookie of any
    name), the stack answers. It keeps what the outer middleware keep for every request: the
    request's id, line and metrics (ops.requests), the read's statement bound, and the
    connection's checks and lifetime at the request's start and end (close_old_connections, as
    Django's request_started and request_finished). A database
    error on the version read hands the request to the stack with the error
    (VERSION_READ_FAILED), which answers 503 as for any other request, without a second wait.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        key = self._key(environ)
        if key is None:
            return self.app(environ, start_response)
        entry = response_cache.get(key)
        if entry is not None and entry.sent_headers is not None:
            answer = self._answer(environ, start_response, entry)
            if answer is not None:
                return answer
            if VERSION_READ_FAILED not in environ:
                return self._recomputed_once(environ, start_response, key, entry)
        return self._through_the_stack(environ, start_response, key)

    def _recomputed_once(self, environ, start_response, key: tuple, outdated: Entry):
        """The answer of an entry found outdated (or expired), computed by one thread of this
        worker at a time: a thread that waited for another answers from what that one kept,
        if its versions read back unchanged now, after this request arrived."""
        with recomputing.turn(key, RECOMPUTE_PATIENCE):
            kept = response_cache.get(key)
            if kept is not None and kept is not outdated and kept.sent_headers is not None:
                answer = self._answer(environ, start_response, kept)
                if answer is not None:
                    return answer
            return self._through_the_stack(environ, start_response, key)

    @staticmethod
    def _key(environ) -> tuple | None:
        if (
            environ.get("REQUEST_METHOD") != "GET"
            or not environ.get("PATH_INFO", "").startswith(CACHED_PATHS)
            or not plainly_anonymous(environ)
            or (settings.API_BROWSABLE and "text/html" in environ.get("HTTP_ACCEPT", ""))
            or not caching_on()
        ):
            return None
        return answer_key(environ)

    def _answer(self, environ, start_response, entry: Entry):
        """The entry's answer if it still stands, or None."""
        # Timed from the first attempt, a wait for another thread's computation included.
        started = environ.setdefault(STARTED, time.perf_counter())
        if entry.expired(timezone.now()):
            return None
        # As Django does at a request's start and end: the connection's checks and lifetime.
        close_old_connections()
        try:
            bound_statements = getattr(connection, "bound_statements", None)
            if bound_statements is not None:
                bound_statements(read=True)
            current = read_versions(entry.stamp)
        except UNAVAILABLE_ERRORS as error:
            environ[VERSION_READ_FAILED] = error
            return None
        except DatabaseError:
            return None  # the stack meets it again, and answers it as any other request
        finally:
            close_old_connections()
        if current != entry.versions:
            environ[FOUND_OUTDATED] = entry
            return None
        CACHE_HITS.inc()
        request_id = begin_request(environ)
        start_response("200 OK", [*entry.sent_headers, (REQUEST_ID_HEADER, request_id)])
        view, route = route_of_path(environ["PATH_INFO"])
        record_answer(
            environ,
            started=started,
            status=200,
            view=view,
            route=route,
            client=client_of(MetaOnly(environ)),
        )
        return [entry.body]

    def _through_the_stack(self, environ, start_response, key: tuple):
        sent = []

        def keep_what_is_sent(status, headers, *exc_info):
            sent.append((status, headers))
            return start_response(status, headers, *exc_info)

        result = self.app(environ, keep_what_is_sent)
        entry = response_cache.get(key)
        if entry is not None and entry.sent_headers is None and sent:
            status, headers = sent[-1]
            streamed = getattr(result, "streaming", True)
            body = None if streamed else result.content
            if (
                status.startswith("200 ")
                and body == entry.body
                and not any(name.lower() == "set-cookie" for name, _ in headers)
            ):
                entry.sent_headers = [
                    (name, value) for name, value in headers if name != REQUEST_ID_HEADER
                ]
        return result
