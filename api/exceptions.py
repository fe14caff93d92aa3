"""One error shape for the whole API: `{"detail", "code"}`, plus `"errors"` for bad input.

Every error under /api/ is answered here, in debug mode too: DRF's exception handler for the
views, MalformedRequestMiddleware for what Django refuses before any view runs, and the
handler400/404/500 views for the rest.
"""

import logging
import sys

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.utils.log import log_response
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from core.exceptions import (
    AttendeeNotFound,
    CheckInNotFound,
    DeviceNotFound,
    DomainError,
    EventNotFound,
    InvalidTicket,
    QuestionNotFound,
    RegistrationNotFound,
    RequestNotPending,
)
from event_management_system.ops.metrics import count_database_error
from event_management_system.ops.requests import current_request_id
from event_management_system.paths import API_PREFIX

logger = logging.getLogger(__name__)

INVALID_INPUT_MESSAGE = "The request has invalid fields; see errors."
NOT_FOUND_MESSAGE = "Nothing exists at this address."
BAD_REQUEST_MESSAGE = "The request was malformed."
SERVER_ERROR_MESSAGE = "The server failed to handle this request."
UNAVAILABLE_MESSAGE = "The database is unavailable; try again shortly."
RETRY_AFTER_SECONDS = 1

# The database could not serve the request: unreachable, gone mid-request, or past a timeout
# (connect, statement, lock) or a deadlock. Worth a retry, unlike any other database error.
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)

# Domain errors are refusals of a valid request (409) unless listed here.
DOMAIN_ERROR_STATUS: dict[type[DomainError], int] = {
    EventNotFound: status.HTTP_404_NOT_FOUND,
    RegistrationNotFound: status.HTTP_404_NOT_FOUND,
    AttendeeNotFound: status.HTTP_404_NOT_FOUND,
    QuestionNotFound: status.HTTP_404_NOT_FOUND,
    RequestNotPending: status.HTTP_404_NOT_FOUND,
    CheckInNotFound: status.HTTP_404_NOT_FOUND,
    DeviceNotFound: status.HTTP_404_NOT_FOUND,
    InvalidTicket: status.HTTP_400_BAD_REQUEST,
}


def _string_keys(errors):
    """`errors` with every key a string: a list field's errors come keyed by item index."""
    if isinstance(errors, dict):
        return {str(key): _string_keys(value) for key, value in errors.items()}
    return errors


def error_body(detail: str, code: str, errors: dict | None = None) -> dict:
    body = {"detail": detail, "code": code}
    if errors is not None:
        body["errors"] = errors
    return body


def service_unavailable_response(error: Exception | None = None) -> JsonResponse:
    """503 `service_unavailable` with Retry-After: the answer whenever the database cannot serve.

    Anything under /api/ that queries the database outside a view (a middleware) answers this
    for `except UNAVAILABLE_ERRORS as error`. The error is logged as one line: an outage is not
    a bug, and a traceback per request would bury the log. It is counted in the metrics by kind
    (event_management_system.ops.metrics.database_error_kind).
    """
    if error is not None:
        count_database_error(error)
        logger.warning("Database unavailable: %s", error)
    response = JsonResponse(error_body(UNAVAILABLE_MESSAGE, "service_unavailable"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def bad_request_response(error: SuspiciousOperation) -> JsonResponse:
    """400 `bad_request` for a request Django refuses, logged where Django logs such refusals."""
    logging.getLogger(f"django.security.{type(error).__name__}").error(str(error))
    return JsonResponse(error_body(BAD_REQUEST_MESSAGE, "bad_request"), status=400)


def server_error_response() -> JsonResponse:
    """500 `server_error`, with the `request_id` that finds the failure in the log."""
    body = error_body(SERVER_ERROR_MESSAGE, "server_error")
    if (request_id := current_request_id()) is not None:
        body["request_id"] = request_id
    return JsonResponse(body, status=500)


def domain_error_answer(exc: DomainError) -> tuple[int, dict]:
    """The status and body that answer a refusal: 409 unless DOMAIN_ERROR_STATUS says."""
    return (
        DOMAIN_ERROR_STATUS.get(type(exc), status.HTTP_409_CONFLICT),
        {**error_body(exc.message, exc.code), **exc.details()},
    )


def exception_handler(exc, context):
    """DRF's handler with every error answered as `{"detail", "code"[, "errors"]}`."""
    if isinstance(exc, DomainError):
        status_code, body = domain_error_answer(exc)
        return Response(body, status=status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return service_unavailable_response(exc)
    if isinstance(exc, SuspiciousOperation):
        return bad_request_response(exc)

    response = drf_exception_handler(exc, context)
    if response is None:
        # Answered here rather than re-raised, so that debug mode answers JSON too (Django's
        # debug page is HTML); logged with its traceback as Django logs an unhandled error.
        response = server_error_response()
        request = context.get("request")
        path = request.path if request is not None else ""
        log_response(
            "%s: %s",
            response.reason_phrase,
            path,
            response=response,
            request=getattr(request, "_request", None),
            exception=exc,
        )
        return response
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body(INVALID_INPUT_MESSAGE, "invalid", _string_keys(errors))
    else:
        response.data = error_body(str(exc.detail), _code(exc))
    return response


def _code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def _wants_json(request) -> bool:
    return request.path.startswith(API_PREFIX)


def not_found(request, exception=None):
    """404 outside any API view: JSON under /api/, Django's page elsewhere."""
    if _wants_json(request):
        return JsonResponse(error_body(NOT_FOUND_MESSAGE, "not_found"), status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request, exception=None):
    """400 raised by Django itself (a suspicious request), JSON under /api/."""
    if _wants_json(request):
        return JsonResponse(error_body(BAD_REQUEST_MESSAGE, "bad_request"), status=400)
    return defaults.bad_request(request, exception)


def server_error(request):
    """500 from an unhandled error: JSON under /api/, never a traceback.

    When the error being handled is the database's unavailability: 503 with Retry-After.
    """
    if isinstance(error := sys.exception(), UNAVAILABLE_ERRORS):
        # Django has logged it already; only counted here.
        count_database_error(error)
        if _wants_json(request):
            return service_unavailable_response()
        response = HttpResponse(UNAVAILABLE_MESSAGE, status=503, content_type="text/plain")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if _wants_json(request):
        return server_error_response()
    return defaults.server_error(request)


class MalformedRequestMiddleware:
    """Refuses an /api/ request whose host or query string Django rejects: a JSON 400, always.

    Django raises these from wherever the host or query is first read; in debug mode it then
    answers with its plain-text debug page, and for too many query parameters fails even to
    draw that page (it lists them), so the server sends a bare 500. Reading both here first,
    above every other middleware that reads them, keeps the API's error shape in every mode.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith(API_PREFIX):
            try:
                request.get_host()
                request.GET  # noqa: B018 - parsed once, here, and kept for everything after
            except SuspiciousOperation as error:
                return bad_request_response(error)
        return self.get_response(request)
