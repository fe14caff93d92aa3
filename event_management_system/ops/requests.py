"""Each request's id, its line in the log and its count in the metrics.

RequestObservationMiddleware is the outermost middleware, so all of this covers every answer:
a cached one, an early refusal, a probe, a 500. It does no database or cache call.

The id is the request's `X-Request-ID` when that is 1 to 128 letters, digits, dots, dashes or
underscores, and a fresh uuid4 (32 hex digits) otherwise. It is bound to the thread's log
context until its next request, so every line written for the request carries it (Django's own
error lines too), it is in a 500's JSON (`request_id`), and it is returned as `X-Request-ID`
on the answer. Set here, outside the response cache, so a cached answer never carries another
request's.

The request's line: `event` "request", `request_id`, `method`, `route` (the matched URL
pattern as a path template, `/api/events/{id}/register/`, its parameters named as the OpenAPI
schema names them) and `view` (its name), `status`, `duration_ms`, `client` (the address the
throttles use, so DJANGO_TRUSTED_PROXIES applies), and `user_id` when the API authenticated the
request. Never a path, a query string, a header or a body: registration tokens travel in paths,
emails and passwords in bodies, bearer tokens in headers. Probes are logged at DEBUG, the rest
at INFO.
"""

import functools
import logging
import random
import re
import time

import structlog
from django.conf import settings
from django.http.request import HttpHeaders
from django.urls import Resolver404, resolve
from django.utils.functional import LazyObject

from event_management_system.ops import metrics
from event_management_system.ops.clients import client_address
from event_management_system.ops.endpoints import ENDPOINT_VIEWS, PROBE_PATHS
from event_management_system.ops.logs import REQUEST_FIELDS

HEADER = "X-Request-ID"
# The WSGI environ key under which a piece in front of Django (api.caching.CachedAnswers,
# api.registrations.direct) that hands a request on says when it began with it: the request's
# line and its duration count from there, the front piece's attempt included.
STARTED = "events.request_started"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# The view label of a path no route matches (and of static files): one, whatever the path.
UNMATCHED = "unmatched"
# The OpenAPI schema names an event's id `id` where the routes name it `pk`.
PATH_PARAMETER_NAMES = {"pk": "id"}
# A named group, `(?P<pk>[0-9]+)`, holding at most one level of unnamed parentheses.
_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>(?:[^()\\]|\\.|\([^()]*\))*\)")
# A path converter, `<int:pk>` or `<slug>`.
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")
_ESCAPED = re.compile(r"\\(.)")

# The standard library's logger, not structlog's: the line's fields travel as one `extra`
# (event_management_system.ops.logs.add_request_fields), which costs half as much per request.
logger = logging.getLogger("event_management_system.ops.requests")


def current_request_id() -> str | None:
    """The id of the request being answered in this thread, if any."""
    return structlog.contextvars.get_contextvars().get("request_id")


def request_id_of(meta) -> str:
    given = meta.get("HTTP_X_REQUEST_ID")
    if given is not None and SANE_REQUEST_ID.fullmatch(given):
        return given
    # Unique, not secret: the process's generator, without a system call per request.
    return f"{random.getrandbits(128):032x}"


def route_of(request) -> tuple[str, str | None]:
    """The view name and URL pattern the request was routed to (or would have been: a cached
    answer and an early refusal are given before Django routes the request)."""
    endpoint = ENDPOINT_VIEWS.get(request.path_info)
    if endpoint is not None:
        return endpoint, request.path_info
    match = request.resolver_match
    if match is None:
        return route_of_path(request.path_info)
    return match.view_name, readable_route(match.route)


def route_of_path(path: str) -> tuple[str, str | None]:
    """The view name and URL pattern a path routes to, for an answer given before routing."""
    return _resolved(path)


@functools.lru_cache(maxsize=4096)
def _resolved(path: str) -> tuple[str, str | None]:
    # Paths answered before routing repeat (that is why the cache could answer them), and
    # routing one afresh costs tens of microseconds.
    try:
        match = resolve(path)
    except Resolver404:
        return UNMATCHED, None
    return match.view_name, readable_route(match.route)


def _parameter(match: re.Match) -> str:
    name = PATH_PARAMETER_NAMES.get(match[1], match[1])
    return f"{{{name}}}"


@functools.lru_cache(maxsize=1024)
def readable_route(pattern: str) -> str:
    """The URL pattern a request matched as the path template a person reads, as the OpenAPI
    schema writes it: `/api/events/{id}/register/` for `api/events/(?P<pk>[0-9]+)/register/?$`.

    The routes are few and fixed, so the cache holds every one after its first request.
    """
    text = _CONVERTER.sub(_parameter, _NAMED_GROUP.sub(_parameter, pattern))
    # An optional trailing slash reads as the slash; the anchors are no part of the path.
    text = text.replace("^", "").removesuffix("$").replace("/?", "/")
    return "/" + _ESCAPED.sub(r"\1", text).lstrip("/")


class MetaOnly:
    """What the address readers need of a request (its META and the headers read from it), for
    an answer given before Django made one."""

    def __init__(self, meta):
        self.META = meta

    @functools.cached_property
    def headers(self) -> HttpHeaders:
        return HttpHeaders(self.META)


def client_of(request) -> str | None:
    # Without trusted proxies the throttles' address is REMOTE_ADDR; read it without their
    # parsing, which would cost more than the rest of this middleware.
    if settings.TRUSTED_PROXIES:
        return client_address(request)
    return request.META.get("REMOTE_ADDR")


def user_id_of(request) -> int | None:
    # Only a user the request has already loaded: the admin's session user is loaded lazily,
    # and reading it here would cost a query of its own. The API sets the user it authenticated.
    user = request.__dict__.get("user")
    if user is None or isinstance(user, LazyObject) or not user.is_authenticated:
        return None
    return user.pk


def begin_request(meta) -> str:
    """The request's id (see the module), bound to this thread's log context."""
    request_id = request_id_of(meta)
    # Bound until the next request in this thread replaces it, not only until the request is
    # answered: Django writes its line about an error answer after the middleware is done.
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    return request_id


def record_answer(
    meta,
    *,
    started: float,
    status: int,
    view: str,
    route: str | None,
    client: str | None,
    user_id: int | None = None,
) -> None:
    """Counts the answer in the metrics and writes the request's line (see the module)."""
    seconds = time.perf_counter() - started
    metrics.observe_request(view, status, seconds)
    level = logging.DEBUG if meta.get("PATH_INFO") in PROBE_PATHS else logging.INFO
    if not logger.isEnabledFor(level):
        return
    fields = {
        "method": meta.get("REQUEST_METHOD"),
        "route": route,
        "view": view,
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "client": client,
    }
    if user_id is not None:
        fields["user_id"] = user_id
    # Made and handled directly: logger.log() would first walk the stack for a caller no line
    # shows, which costs more than writing the line.
    record = logger.makeRecord(
        logger.name, level, __file__, 0, "request", None, None, extra={REQUEST_FIELDS: fields}
    )
    logger.handle(record)


class RequestObservationMiddleware:
    """Gives every request an id, and counts and logs its answer (see the module)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = request.META.get(STARTED) or time.perf_counter()
        request_id = begin_request(request.META)
        response = self.get_response(request)
        response[HEADER] = request_id
        view, route = route_of(request)
        record_answer(
            request.META,
            started=started,
            status=response.status_code,
            view=view,
            route=route,
            client=client_of(request),
            user_id=user_id_of(request),
        )
        return response
