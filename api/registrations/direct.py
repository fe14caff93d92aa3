"""A plain registration answered by the WSGI application itself (DirectRegistrations), before
Django builds a request: the same rules (core.services.register_attendee), the same answer byte
for byte but its request id and its own data, logged and counted as any.

On PostgreSQL a registration's own work is one statement (core/sql/registration.py); around it,
the middleware, the URL routing and DRF's request, negotiation and serializer cost more than the
rest together. This path takes a request that needs none of them:

- `POST /api/events/<id>/register/` with no query string, a `Content-Type` of
  `application/json` (UTF-8), an `Accept` of JSON or anything, and no `Authorization`, `Cookie`
  or `Idempotency-Key`; from a host the settings allow, over HTTPS when the settings insist;
- a body of at most 64 KiB that is a JSON object of `name`, `email` and perhaps `waitlist`, as
  RegistrationSerializer accepts them (answers are read against the event's questions: the
  stack takes those);
- within the client's request budget (api/throttling.py), spent here as the view spends it.

It answers as the view does: the seat (201), the waiting place or pending request (202) the
rules give, their refusal (404, 409), or 503 with Retry-After when the database cannot answer in
time (at once, without a second wait), with the headers the stack sent with such an answer
(over HTTPS, or over plain HTTP, as this request came): until the stack has answered one, it
answers none. Every other request goes to the stack, which answers it as before; so does a
registration refused for its missing answers (the view names the questions) and one met by any
other error, with the request id already given, timed from its start here
(ops.requests.STARTED), and marked as having spent its budget (api.throttling.SPENT_SCOPE), so
it is not spent twice. Nothing has been written then.
"""

import re
import time
from dataclasses import dataclass
from http import HTTPStatus
from io import BytesIO

import orjson
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.db import close_old_connections, connection
from django.utils.log import log_response
from rest_framework.exceptions import ValidationError

from api.caching import plainly_anonymous
from api.exceptions import (
    UNAVAILABLE_ERRORS,
    domain_error_answer,
    server_error_response,
    service_unavailable_response,
)
from api.idempotency import HEADER as IDEMPOTENCY_HEADER
from api.parsers import MAX_BODY_BYTES
from api.registrations.serializers import NewPlaceSerializer, RegistrationSerializer
from api.registrations.views import STATUS_OF_PLACE
from api.renderers import JSONRenderer
from api.throttling import SPENT_SCOPE, ScopedThrottle
from core.exceptions import AnswersRequired, DomainError
from core.rules import RegistrationOutcome
from core.services import Registration, register_attendee
from event_management_system.ops.metrics import count_registration
from event_management_system.ops.requests import HEADER as REQUEST_ID_HEADER
from event_management_system.ops.requests import (
    STARTED,
    begin_request,
    client_of,
    record_answer,
    route_of_path,
)
from event_management_system.paths import API_PREFIX

# An id a bigint holds (at most 18 digits); a longer one is the stack's 404.
REGISTER_PATH = re.compile(rf"{re.escape(API_PREFIX)}events/([1-9][0-9]{{0,17}})/register/")
# The path its answers are logged and counted under, as the stack's are.
REGISTER_ROUTE = f"{API_PREFIX}events/1/register/"
PLAIN_FIELDS = frozenset({"name", "email", "waitlist"})
JSON_TYPES = frozenset({"application/json", "application/json; charset=utf-8"})
ANY_JSON = frozenset({None, "*/*", "application/json"})
# The environ's name of the Idempotency-Key header: a retried registration goes to the stack.
IDEMPOTENCY_KEY = "HTTP_" + IDEMPOTENCY_HEADER.upper().replace("-", "_")
# What the stack sends that belongs to one answer only.
OWN_HEADERS = frozenset({REQUEST_ID_HEADER.lower(), "content-length"})


class Budget:
    """What the throttle asks of the view it guards: the budget it spends."""

    throttle_scope = "register"


class LearnedHeaders:
    """The headers the stack sent with a plain registration's answer, but its own: one set for
    requests over HTTPS and one for plain HTTP (HSTS is sent over HTTPS only)."""

    def __init__(self):
        self._by_security: dict[bool, list[tuple[str, str]]] = {}

    def learn(self, secure: bool, headers: list[tuple[str, str]]) -> None:
        self._by_security[secure] = [
            (name, value) for name, value in headers if name.lower() not in OWN_HEADERS
        ]

    def headers(self, secure: bool) -> list[tuple[str, str]] | None:
        return self._by_security.get(secure)

    def forget(self) -> None:
        self._by_security = {}


learned = LearnedHeaders()
# Validation is stateless: one serializer, its fields built once, checks every body.
_validator = RegistrationSerializer(context={})


@dataclass(frozen=True)
class Decided:
    """How a registration ended, as the view would answer it: its outcome (None for an
    unavailable database, which the view does not count), status, body and headers of its own."""

    outcome: RegistrationOutcome | None
    status: HTTPStatus
    content: bytes
    headers: tuple[tuple[str, str], ...] = ()


class DirectRegistrations:
    """WSGI: answers a plain registration without Django's stack (see the module); hands every
    other request to `app`."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        path_match = self._plain(environ)
        if path_match is None:
            return self.app(environ, start_response)
        body = self._read_body(environ)
        request = WSGIRequest(environ)
        secure = request.is_secure()
        headers = learned.headers(secure)
        if headers is None:
            return self._through_the_stack(environ, start_response, secure)
        # First, as the stack's outermost middleware does: every line written for the request
        # carries its id, the stack's too if the request is handed on.
        request_id = begin_request(environ)
        decided = self._decide(environ, request, int(path_match[1]), body)
        if decided is None:
            environ["HTTP_X_REQUEST_ID"] = request_id
            environ[STARTED] = started
            return self.app(environ, start_response)
        if decided.outcome is not None:
            count_registration(decided.outcome.value)
        start_response(
            f"{decided.status.value} {decided.status.phrase}",
            [
                *headers,
                *decided.headers,
                ("Content-Length", str(len(decided.content))),
                (REQUEST_ID_HEADER, request_id),
            ],
        )
        view, route = route_of_path(REGISTER_ROUTE)
        record_answer(
            environ,
            started=started,
            status=decided.status.value,
            view=view,
            route=route,
            client=client_of(request),
        )
        return [decided.content]

    @staticmethod
    def _plain(environ) -> re.Match | None:
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or environ.get("QUERY_STRING")
            or environ.get("CONTENT_TYPE", "").lower() not in JSON_TYPES
            or environ.get("HTTP_ACCEPT") not in ANY_JSON
            or not plainly_anonymous(environ)
            or IDEMPOTENCY_KEY in environ
        ):
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return None
        django_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if not 0 < length <= min(MAX_BODY_BYTES, django_limit or MAX_BODY_BYTES):
            return None
        return REGISTER_PATH.fullmatch(environ.get("PATH_INFO", ""))

    @staticmethod
    def _read_body(environ) -> bytes:
        # Read once; whoever answers reads it again from here.
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        environ["wsgi.input"] = BytesIO(body)
        return body

    def _decide(self, environ, request: WSGIRequest, event_id: int, body: bytes) -> Decided | None:
        """The registration's answer, or None for the stack to give it (nothing written)."""
        try:
            taken = self._take(environ, request, event_id, body)
        except Exception:  # nothing written: the stack meets it again, and answers it
            return None
        if not isinstance(taken, Registration):
            return taken
        # Written: answered here, whatever comes next.
        outcome = taken.outcome
        try:
            content = JSONRenderer().render(NewPlaceSerializer(taken).data)
        except Exception as error:  # as the view's exception handler answers and logs it
            response = server_error_response()
            log_response(
                "%s: %s",
                response.reason_phrase,
                request.path,
                response=response,
                request=request,
                exception=error,
            )
            return Decided(outcome, HTTPStatus(response.status_code), response.content)
        return Decided(outcome, HTTPStatus(STATUS_OF_PLACE[outcome]), content)

    def _take(
        self, environ, request: WSGIRequest, event_id: int, body: bytes
    ) -> Registration | Decided | None:
        """The place taken, a refusal's or an unavailable database's answer, or None for the
        stack to answer."""
        data = self._plain_body(body)
        if data is None or not self._asked_as_allowed(request):
            return None
        try:
            fields = _validator.run_validation(data)
        except ValidationError:
            return None
        if not ScopedThrottle().allow_request(request, Budget):
            return None
        environ[SPENT_SCOPE] = Budget.throttle_scope
        # As Django does at a request's start and end: the connection's checks and lifetime.
        close_old_connections()
        try:
            bound_statements = getattr(connection, "bound_statements", None)
            if bound_statements is not None:
                bound_statements(read=False)
            registration = register_attendee(event_id=event_id, **fields)
        except AnswersRequired:
            return None  # answered naming the questions, which the view reads
        except DomainError as error:
            status_code, answer = domain_error_answer(error)
            outcome = RegistrationOutcome.of_refusal(error)
            return Decided(outcome, HTTPStatus(status_code), JSONRenderer().render(answer))
        except UNAVAILABLE_ERRORS as error:
            # Answered at once, as the view's exception handler answers it: no second wait.
            response = service_unavailable_response(error)
            return Decided(
                None,
                HTTPStatus(response.status_code),
                response.content,
                (("Retry-After", response["Retry-After"]),),
            )
        finally:
            close_old_connections()
        return registration

    @staticmethod
    def _plain_body(body: bytes) -> dict | None:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict) or not data.keys() <= PLAIN_FIELDS:
            return None
        return data

    @staticmethod
    def _asked_as_allowed(request: WSGIRequest) -> bool:
        """From a host the settings allow, over HTTPS if they insist."""
        try:
            request.get_host()
        except DisallowedHost:
            return False
        return not settings.SECURE_SSL_REDIRECT or request.is_secure()

    def _through_the_stack(self, environ, start_response, secure: bool):
        def learn_what_is_sent(status, headers, *exc_info):
            if status.startswith(("201 ", "202 ")):
                learned.learn(secure, headers)
            return start_response(status, headers, *exc_info)

        return self.app(environ, learn_what_is_sent)
