"""What every operation's OpenAPI description shares: the error body and its cases, the `tz`
parameter, the request-budget and idempotency headers, and `documented`, which declares one
operation. Each resource declares its own operations next to its views (api/<resource>/schema.py).

Each operation lists the errors it can answer with; `documented` adds those every operation
shares (an unknown `?tz=`, a refused token, a server failure, an unreachable database), for
operations with a body, malformed JSON and a wrong content type, and for those that take an
`Idempotency-Key` (api/idempotency.py), the header, its errors and the replay's header. The bearer
scheme lets Swagger UI's "Authorize" send a token with every request.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.settings import api_settings

from api.exceptions import (
    INVALID_INPUT_MESSAGE,
    NOT_FOUND_MESSAGE,
    SERVER_ERROR_MESSAGE,
    UNAVAILABLE_MESSAGE,
)
from api.idempotency import (
    HEADER,
    INVALID_KEY_MESSAGE,
    REPLAYED_HEADER,
    InProgress,
    KeyReused,
)
from api.pagination import PageNumberPagination
from api.parsers import MAX_BODY_BYTES, MAX_DEPTH
from api.timezones import INVALID_TIMEZONE_CODE, INVALID_TIMEZONE_MESSAGE, TZ_PARAMETER
from core.exceptions import EventCancelled, EventNotFound


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer <token>`, as api.authentication reads it."""

    target_class = "api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        scheme = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=self.target.authenticate_header(None)
        )
        return {
            **scheme,
            "description": (
                "An organiser's token from `POST /api/auth/token/` or `manage.py "
                "create_organiser`, sent as `Authorization: Bearer <token>`."
            ),
        }


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    detail = serializers.CharField(help_text="What went wrong, as a sentence for a person.")
    code = serializers.CharField(help_text="A stable machine-readable code; see each response.")
    errors = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text=(
            "Only when the input was invalid: the messages (a list) for each offending field or "
            "query parameter (`non_field_errors` when the body as a whole is wrong); for "
            "`answers`, an object of such lists by question id."
        ),
    )


@dataclass(frozen=True)
class ErrorCase:
    """One way an operation can fail: its status, its `code`, when it happens, a sample body."""

    status: int
    code: str
    when: str
    detail: str
    errors: dict[str, list[str]] | None = None
    # Names the example when one status has two cases with the same code.
    label: str | None = None

    def example(self) -> OpenApiExample:
        value: dict[str, Any] = {"detail": self.detail, "code": self.code}
        if self.errors is not None:
            value["errors"] = self.errors
        return OpenApiExample(
            self.label or self.code,
            summary=self.when,
            value=value,
            response_only=True,
            status_codes=[self.status],
        )


def invalid(when: str, **errors: list[str]) -> ErrorCase:
    return ErrorCase(400, "invalid", when, INVALID_INPUT_MESSAGE, errors, label="invalid")


PARSE_ERROR = ErrorCase(
    400,
    "parse_error",
    f"The body is not valid JSON (`NaN` and `Infinity` are not), is not text in its charset "
    f"(UTF-8 unless the `Content-Type` names another), nests arrays and objects more than "
    f"{MAX_DEPTH} deep, or is larger than {MAX_BODY_BYTES:,} bytes.",
    "JSON parse error - unexpected end of data: line 1 column 17 (char 16)",
)
INVALID_TIMEZONE = ErrorCase(
    400,
    INVALID_TIMEZONE_CODE,
    "`?tz=` is not an IANA time zone name.",
    INVALID_TIMEZONE_MESSAGE,
    {TZ_PARAMETER: [INVALID_TIMEZONE_MESSAGE]},
)
BAD_REQUEST = ErrorCase(
    400,
    "bad_request",
    "The request itself is malformed: a host name this server does not answer for, more than "
    f"{settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} query parameters, or a body over "
    f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 2**20:g} MB.",
    "The request was malformed.",
)
EVENT_NOT_FOUND = ErrorCase(
    404, "not_found", "No event has this id.", EventNotFound.message, label="no such event"
)
NO_SUCH_ADDRESS = ErrorCase(
    404,
    "not_found",
    "The id is not a whole number, so nothing exists at this address.",
    NOT_FOUND_MESSAGE,
    label="no such address",
)
PAGE_NOT_FOUND = ErrorCase(
    404,
    "not_found",
    "`?page=` is past the last page, or not a whole number.",
    "Invalid page.",
    label="no such page",
)

EVENT_CANCELLED = ErrorCase(
    409, EventCancelled.code, "The event has been cancelled.", EventCancelled.message
)
UNSUPPORTED_MEDIA_TYPE = ErrorCase(
    415,
    "unsupported_media_type",
    "The body is not `application/json`.",
    'Unsupported media type "text/plain" in request.',
)


# A throttle rate's period, as DRF reads it (by its first letter), in words.
RATE_PERIODS = {"s": "a second", "m": "a minute", "h": "an hour", "d": "a day"}


def rate_in_words(scope: str) -> str:
    """The request budget of `scope` as configured (DEFAULT_THROTTLE_RATES), in words:
    `60/min` is "60 a minute"."""
    number, period = api_settings.DEFAULT_THROTTLE_RATES[scope].split("/")
    return f"{number} {RATE_PERIODS[period[0]]}"


def throttled(budget: str) -> ErrorCase:
    """429 for an operation that spends a request budget (api/throttling.py)."""
    return ErrorCase(
        429,
        "throttled",
        f"The client has spent its budget of {budget} for now; retry after the `Retry-After` "
        "seconds.",
        "Request was throttled. Expected available in 42 seconds.",
    )


SERVER_ERROR = ErrorCase(
    500,
    "server_error",
    "An unexpected failure; it is logged and no traceback is sent.",
    SERVER_ERROR_MESSAGE,
)
SERVICE_UNAVAILABLE = ErrorCase(
    503,
    "service_unavailable",
    "The database cannot be reached or did not answer in time; retry after `Retry-After` seconds.",
    UNAVAILABLE_MESSAGE,
)

INVALID_TOKEN = ErrorCase(
    401,
    "authentication_failed",
    "An `Authorization: Bearer` token was sent that does not work: unknown, expired, revoked or "
    "malformed, or its user is inactive. Without the header the request is anonymous.",
    "Invalid token.",
)


def not_authenticated(when: str) -> ErrorCase:
    return ErrorCase(
        401, "not_authenticated", when, "Authentication credentials were not provided."
    )


def permission_denied(when: str) -> ErrorCase:
    return ErrorCase(
        403, "permission_denied", when, "You do not have permission to perform this action."
    )


INVALID_IDEMPOTENCY_KEY = ErrorCase(
    400,
    "invalid",
    f"The `{HEADER}` header is empty, longer than 255 characters, or holds a character that is "
    "not printable ASCII.",
    INVALID_INPUT_MESSAGE,
    {HEADER: [INVALID_KEY_MESSAGE]},
    label="invalid idempotency key",
)
IDEMPOTENCY_KEY_REUSED = ErrorCase(
    422,
    KeyReused.default_code,
    f"The `{HEADER}` was already used by this caller, at this operation, for another request "
    "(another body, event or query string). Nothing was done.",
    KeyReused.default_detail,
)
IDEMPOTENCY_IN_PROGRESS = ErrorCase(
    409,
    InProgress.default_code,
    f"A request with the same `{HEADER}` is still being processed; retry after `Retry-After` "
    "seconds to get its answer. Nothing was done.",
    InProgress.default_detail,
)

SHARED_ERRORS = (INVALID_TIMEZONE, BAD_REQUEST, SERVER_ERROR, SERVICE_UNAVAILABLE)
IDEMPOTENCY_ERRORS = (INVALID_IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_REUSED, IDEMPOTENCY_IN_PROGRESS)
BODY_ERRORS = (PARSE_ERROR, UNSUPPORTED_MEDIA_TYPE)

TZ = OpenApiParameter(
    TZ_PARAMETER,
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    description=(
        "An IANA time zone name: every datetime in the response is shown in this zone with "
        "its offset (`2031-03-15T09:00:00+05:30`). Default UTC, shown with `Z`. Datetimes you "
        "send keep their own offsets. An unknown name answers 400 `invalid_timezone`."
    ),
    examples=[
        OpenApiExample("UTC (the default)", value="UTC"),
        OpenApiExample("India", value="Asia/Kolkata"),
        OpenApiExample("New York", value="America/New_York"),
    ],
)
RETRY_AFTER_CODES = [429, 503]


def retry_after(codes: Sequence[int]) -> OpenApiParameter:
    return OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        description="Seconds to wait before retrying.",
        response=list(codes),
    )


IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7E]+$"},
    OpenApiParameter.HEADER,
    description=(
        "Makes a retry safe: a unique value of your choice (a UUID, say), 1 to 255 printable "
        "ASCII characters, sent again with every retry of the same request. The first request "
        "with a key is processed and its answer kept; a repeat with the same key and the same "
        "request (path, query string and body) gets that answer again, with "
        f"`{REPLAYED_HEADER}: true`, and changes nothing; errors are kept too, except 429 and "
        "5xx. The same key with another request answers 422 `idempotency_key_reused`; while "
        "the first is still running a repeat waits for it, or answers 409 "
        "`idempotency_in_progress`. Keys are the caller's own (the token's user, else the "
        "client address) and this operation's, and expire after "
        f"{settings.IDEMPOTENCY_TTL // timedelta(hours=1)} hours "
        "(`DJANGO_IDEMPOTENCY_TTL_HOURS`), after which a key is new again."
    ),
    examples=[OpenApiExample("A UUID", value="5f2b9c1e-8d4a-4e7b-9a63-0c1d2e3f4a5b")],
)
# A kept answer is replayed; refusals before the operation runs, 422 and those never kept are not.
NEVER_REPLAYED = {401, 403, 422, 429}


def idempotent_replayed(codes: Sequence[int]) -> OpenApiParameter:
    return OpenApiParameter(
        REPLAYED_HEADER,
        {"type": "string", "enum": ["true"]},
        OpenApiParameter.HEADER,
        description=(
            f"`true` when this is the kept answer to an earlier request with the same "
            f"`{HEADER}`: nothing was done this time. Absent otherwise."
        ),
        response=list(codes),
    )


WWW_AUTHENTICATE = OpenApiParameter(
    "WWW-Authenticate",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="`Bearer`: send an organiser's token as `Authorization: Bearer <token>`.",
    response=[401],
)
EVENT_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The event's id."
)
PAGE_PARAMETERS = [
    OpenApiParameter(
        "page", OpenApiTypes.INT, description=PageNumberPagination.page_query_description
    ),
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1},
        description=PageNumberPagination.page_size_query_description,
    ),
]


def error_responses(errors: Sequence[ErrorCase]) -> dict[int, OpenApiResponse]:
    """One response per status, its description listing each `code` and when it happens."""
    by_status: dict[int, list[ErrorCase]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error)
    return {
        status: OpenApiResponse(
            ErrorSerializer,
            description="\n".join(f"- `{case.code}`: {case.when}" for case in cases),
            examples=[case.example() for case in cases],
        )
        for status, cases in sorted(by_status.items())
    }


def documented(
    *,
    operation_id: str,
    summary: str,
    description: str,
    responses: dict[int, OpenApiResponse],
    errors: Sequence[ErrorCase] = (),
    request: Any = None,
    parameters: Sequence[OpenApiParameter] = (),
    examples: Sequence[OpenApiExample] = (),
    reads_token: bool = True,
    idempotent: bool = False,
):
    """`extend_schema` for one operation, with the `tz` parameter and the shared errors.

    `reads_token=False` for the one operation that ignores any token sent (signing in);
    `idempotent=True` for one wrapped in api.idempotency.idempotent.
    """
    errors = [
        *errors,
        *(BODY_ERRORS if request is not None else ()),
        *((INVALID_TOKEN,) if reads_token else ()),
        *SHARED_ERRORS,
        *(IDEMPOTENCY_ERRORS if idempotent else ()),
    ]
    responses = {**responses, **error_responses(errors)}
    extra = [retry_after(RETRY_AFTER_CODES)]
    if idempotent:
        description += (
            f"\n\nSend an `{HEADER}` to retry safely: a repeat gets the first answer again "
            f"(`{REPLAYED_HEADER}: true`) and never registers or creates twice."
        )
        replayed = [code for code in responses if code < 500 and code not in NEVER_REPLAYED]
        extra = [IDEMPOTENCY_KEY, retry_after([409, *RETRY_AFTER_CODES])]
        extra.append(idempotent_replayed(replayed))
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        description=description,
        request=request,
        responses=responses,
        parameters=[*parameters, TZ, *extra, WWW_AUTHENTICATE],
        examples=list(examples),
    )
