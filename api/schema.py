"""The OpenAPI description of the events API: every operation, its examples and its errors.

Each operation lists the errors it can answer with; `documented` adds those every operation
shares (an unknown `?tz=`, a refused token, a server failure, an unreachable database), for
operations with a body, malformed JSON and a wrong content type, and for those that take an
`Idempotency-Key` (api/idempotency.py), the header, its errors and the replay's header. The bearer
scheme lets Swagger UI's "Authorize" send a token with every request.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers

from api.authentication import INVALID_CREDENTIALS_MESSAGE
from api.datetimes import NAIVE_DATETIME_MESSAGE
from api.exceptions import (
    INVALID_INPUT_MESSAGE,
    NOT_FOUND_MESSAGE,
    SERVER_ERROR_MESSAGE,
    UNAVAILABLE_MESSAGE,
)
from api.filters import EventFilter
from api.idempotency import (
    HEADER,
    INVALID_KEY_MESSAGE,
    REPLAYED_HEADER,
    InProgress,
    KeyReused,
)
from api.pagination import PAGE_SIZE_MESSAGE, PageNumberPagination
from api.parsers import MAX_BODY_BYTES, MAX_DEPTH
from api.serializers import (
    AttendeeSerializer,
    CredentialsSerializer,
    EventSerializer,
    NewPlaceSerializer,
    PlaceSerializer,
    RegistrationSerializer,
    TokenSerializer,
)
from api.timezones import INVALID_TIMEZONE_CODE, INVALID_TIMEZONE_MESSAGE, TZ_PARAMETER
from core.exceptions import (
    AlreadyRegistered,
    AttendeeNotFound,
    CapacityBelowAttendance,
    EventCancelled,
    EventFull,
    EventNotFound,
    EventStarted,
    RegistrationClosed,
    RegistrationNotFound,
)
from core.models import CAPACITY_BELOW_ATTENDANCE_MESSAGE, END_BEFORE_START_MESSAGE
from core.services import CANCEL_STARTED_MESSAGE


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
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text=(
            "Only when the input was invalid: the messages for each offending field or query "
            "parameter (`non_field_errors` when the body as a whole is wrong)."
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
    "1,000 query parameters, or a body over 2.5 MB.",
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
EVENT_FULL = ErrorCase(
    409,
    EventFull.code,
    "Every seat of the event is taken, or people wait for one on its waiting list (a freed seat "
    "is theirs), and `waitlist` was not `true`.",
    EventFull.message,
)
ALREADY_REGISTERED = ErrorCase(
    409,
    AlreadyRegistered.code,
    "This email, compared case-insensitively with its domain in ASCII (`bücher.de` is "
    "`xn--bcher-kva.de`), already holds a seat or a waiting place at the event.",
    AlreadyRegistered.message,
)
EVENT_CANCELLED = ErrorCase(
    409, EventCancelled.code, "The event has been cancelled.", EventCancelled.message
)
ATTENDEE_NOT_FOUND = ErrorCase(
    404,
    AttendeeNotFound.code,
    "The event has no attendee, seated or waiting, with this id (removed already, or another "
    "event's).",
    AttendeeNotFound.message,
    label="no such attendee",
)
REGISTRATION_NOT_FOUND = ErrorCase(
    404,
    RegistrationNotFound.code,
    "No registration answers to this token: it was never issued, or the registration was "
    "cancelled (by its holder or the organiser).",
    RegistrationNotFound.message,
    label="no such registration",
)
NO_SUCH_TOKEN_ADDRESS = ErrorCase(
    404,
    "not_found",
    "The token holds characters no token has (tokens are URL-safe Base64: letters, digits, "
    "`-` and `_`), so nothing exists at this address.",
    NOT_FOUND_MESSAGE,
    label="no such address",
)
CANCEL_STARTED = ErrorCase(
    409, EventStarted.code, "The event has already started.", CANCEL_STARTED_MESSAGE
)
REGISTRATION_CLOSED = ErrorCase(
    409,
    RegistrationClosed.code,
    "The event has already started.",
    RegistrationClosed.message,
)
UNSUPPORTED_MEDIA_TYPE = ErrorCase(
    415,
    "unsupported_media_type",
    "The body is not `application/json`.",
    'Unsupported media type "text/plain" in request.',
)


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
INVALID_CREDENTIALS = ErrorCase(
    401,
    "invalid_credentials",
    "The username and password are not those of an active user. An unknown username gets the "
    "same answer, after the same work, as a wrong password.",
    INVALID_CREDENTIALS_MESSAGE,
)
EVENT_STARTED = ErrorCase(
    409,
    EventStarted.code,
    "`start_time` differs from the event's and the event has already started.",
    EventStarted.message,
)
CAPACITY_BELOW_ATTENDANCE = ErrorCase(
    409,
    CapacityBelowAttendance.code,
    "`max_capacity` is below the number of attendees already registered (a 409, never a 400).",
    CAPACITY_BELOW_ATTENDANCE_MESSAGE.format(count=12),
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
        "client address) and this operation's, and expire after 24 hours "
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
ATTENDEE_ID = OpenApiParameter(
    "attendee_id",
    OpenApiTypes.INT,
    OpenApiParameter.PATH,
    description="The attendee's id, as the attendee list or the waiting list shows it.",
)
REGISTRATION_TOKEN = OpenApiParameter(
    "token",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description=(
        "The token the registration was answered with (`token` in the 201 or 202 answer)."
    ),
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


EVENT_EXAMPLE = {
    "id": 10,
    "name": "Launch Party",
    "location": "Dock 5, Hamburg",
    "start_time": "2031-03-15T18:00:00Z",
    "end_time": "2031-03-15T22:00:00Z",
    "max_capacity": 200,
    "status": "scheduled",
    "attendee_count": 12,
    "seats_available": 188,
    "waitlist_count": 0,
}
ATTENDEE_EXAMPLE = {
    "id": 22,
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "registered_at": "2030-11-29T12:00:00.123456Z",
}
PLACE_EXAMPLE = {
    "id": 22,
    "event": 10,
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "status": "registered",
    "position": None,
    "registered_at": "2030-11-29T12:00:00.123456Z",
}
WAITING_PLACE_EXAMPLE = {**PLACE_EXAMPLE, "id": 231, "status": "waitlisted", "position": 3}
EXAMPLE_TOKEN = "q0Wn3Vd8sYp1cT5mZ2xK7rL9bF4hJ6uA0eG3iO8tN1w"

CALENDAR_EXAMPLE = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Events API//Events//EN
CALSCALE:GREGORIAN
METHOD:PUBLISH
BEGIN:VEVENT
SUMMARY:Launch Party
DTSTART:20310315T180000Z
DTEND:20310315T220000Z
DTSTAMP:20301129T120000Z
UID:event-10@events.example.org
SEQUENCE:0
LOCATION:Dock 5\\, Hamburg
ORGANIZER:mailto:events@events.example.org
STATUS:CONFIRMED
URL:https://events.example.org/api/events/10/
END:VEVENT
END:VCALENDAR
"""


# The list's filters, which the feed applies too (its ordering and pages it does not).
FEED_FILTERS = [
    OpenApiParameter(
        name,
        OpenApiTypes.DATETIME if name.startswith("starts_") else OpenApiTypes.STR,
        description=EventFilter.base_filters[name].extra["help_text"],
    )
    for name in ("search", "location", "starts_after", "starts_before")
]


def calendar_response(description: str) -> dict:
    return {
        (200, "text/calendar"): OpenApiResponse(
            OpenApiTypes.STR,
            description,
            examples=[OpenApiExample("iCalendar", value=CALENDAR_EXAMPLE, response_only=True)],
        )
    }


feed_schema = documented(
    operation_id="events_calendar",
    summary="Upcoming events as an iCalendar feed",
    description=(
        "Every upcoming event (RFC 5545, `METHOD:PUBLISH`), for a calendar to subscribe to: "
        "the list's filters apply (`?search=` narrows it), its `ordering` and pages do not. "
        "Not paginated: streamed, read a thousand events per query, and cut at the soonest "
        "5,000 events (`DJANGO_CALENDAR_FEED_MAX_EVENTS`); a cut feed says so in its "
        "`X-Feed-Truncated-At` header, the number of events it holds. Each event's `UID` is "
        "stable and its `SEQUENCE` grows when its name, place or times change. Answered as "
        "`text/calendar` whatever the `Accept` header asks; errors are JSON."
    ),
    responses=calendar_response("The upcoming events, one VEVENT each."),
    parameters=FEED_FILTERS,
    errors=[
        invalid(
            "A filter value is malformed, as for the event list.",
            starts_after=[NAIVE_DATETIME_MESSAGE],
        ),
    ],
)
event_feed_schema = documented(
    operation_id="events_ics",
    summary="One event as iCalendar",
    description=(
        "Any event, past or cancelled ones too (`STATUS:CANCELLED`), as a calendar of one "
        "VEVENT with the same `UID` and `SEQUENCE` as in the feed and in attendees' invites."
    ),
    responses=calendar_response("The event."),
    parameters=[EVENT_ID],
    errors=[EVENT_NOT_FOUND, NO_SUCH_ADDRESS],
)

event_viewset_schema = extend_schema_view(
    list=documented(
        operation_id="events_list",
        summary="List upcoming events",
        description=(
            "Events that start after now, soonest first (ties by id), a page at a time. "
            "Every filter narrows the list; an invalid filter value answers 400 naming it."
        ),
        responses={200: OpenApiResponse(EventSerializer, "A page of upcoming events.")},
        errors=[
            invalid(
                "A filter value is malformed: a datetime without its UTC offset, an unknown "
                "`ordering`, an empty value, or `starts_before` not after `starts_after`; or "
                "`page_size` is not a whole number from 1.",
                starts_after=[NAIVE_DATETIME_MESSAGE],
            ),
            PAGE_NOT_FOUND,
        ],
        examples=[OpenApiExample("A page of events", value=EVENT_EXAMPLE, response_only=True)],
    ),
    create=documented(
        operation_id="events_create",
        summary="Create an event",
        description=(
            "For organisers: send an organiser's token; the event is theirs (see `GET "
            "/api/me/events/`). A server running with open access (local development) also "
            "takes events from anonymous clients, which then belong to nobody.\n\n"
            "Every field is required. Datetimes carry a UTC offset (`Z` or `+05:30`) and keep "
            "their instant; `start_time` is in the future and `end_time` after it; "
            "`max_capacity` is from 1 to 1,000,000."
        ),
        request=EventSerializer,
        responses={201: OpenApiResponse(EventSerializer, "The event, as created.")},
        idempotent=True,
        errors=[
            not_authenticated("No token was sent, and open access is off."),
            permission_denied("The token's user is not an organiser, and open access is off."),
            invalid(
                "A field is missing, blank (spaces and invisible characters alone count as "
                "blank), too long, malformed or out of range, a datetime has no UTC offset, or "
                "the body is not a JSON object.",
                start_time=[NAIVE_DATETIME_MESSAGE],
                max_capacity=["Ensure this value is greater than or equal to 1."],
            ),
            throttled("event creations per user (100 an hour unless configured otherwise)"),
        ],
        examples=[
            OpenApiExample(
                "An evening in Hamburg",
                value={
                    "name": "Launch Party",
                    "location": "Dock 5, Hamburg",
                    "start_time": "2031-03-15T19:00:00+01:00",
                    "end_time": "2031-03-15T23:00:00+01:00",
                    "max_capacity": 200,
                },
                request_only=True,
            ),
            OpenApiExample("The created event", value=EVENT_EXAMPLE, response_only=True),
        ],
    ),
    retrieve=documented(
        operation_id="events_retrieve",
        summary="Read an event",
        description="Any event, past ones too, with its live seat figures.",
        responses={200: OpenApiResponse(EventSerializer, "The event.")},
        parameters=[EVENT_ID],
        errors=[EVENT_NOT_FOUND, NO_SUCH_ADDRESS],
        examples=[OpenApiExample("An event", value=EVENT_EXAMPLE, response_only=True)],
    ),
    register=documented(
        operation_id="events_register",
        summary="Register an attendee",
        description=(
            "Takes a seat for `email` at the event. An event is never overbooked, and an email "
            "registers at most once per event (compared case-insensitively, spaces trimmed). "
            "The email is stored with its domain in lower-case ASCII (IDNA: `ada@Bücher.de` "
            "becomes `ada@xn--bcher-kva.de`), its local part as written; the answer shows it so. "
            "An unknown event answers 404 whatever the body holds.\n\n"
            'With a seat free, 201 `"status": "registered"`. A full event answers 409 '
            '`event_full`, unless the body says `"waitlist": true`: then 202 '
            '`"status": "waitlisted"` with the `position` on the waiting list (1 = next). '
            "Whenever a seat frees (a cancellation, an organiser removing an attendee, a raised "
            "capacity) the longest-waiting entry takes it at once, so while anyone waits no "
            "newcomer gets a seat. A waiting place never becomes a seat once the event starts.\n\n"
            "Both answers carry a `token`, shown once (only its hash is kept): "
            "`GET /api/registrations/{token}/` reads the registration and its position, "
            "`DELETE` cancels it. Keep it like a password."
        ),
        request=RegistrationSerializer,
        responses={
            201: OpenApiResponse(NewPlaceSerializer, "A seat is taken."),
            202: OpenApiResponse(
                NewPlaceSerializer, "The event is full: a place on its waiting list is taken."
            ),
        },
        parameters=[EVENT_ID],
        idempotent=True,
        errors=[
            invalid(
                "`name` or `email` is missing, blank (spaces and invisible characters alone "
                "count as blank), too long or malformed, the email's domain is not a valid "
                "internationalised domain name, or the body is not a JSON object.",
                email=["Enter a valid email address."],
            ),
            EVENT_NOT_FOUND,
            NO_SUCH_ADDRESS,
            EVENT_FULL,
            ALREADY_REGISTERED,
            REGISTRATION_CLOSED,
            EVENT_CANCELLED,
            throttled("registrations per client address (60 a minute unless configured otherwise)"),
        ],
        examples=[
            OpenApiExample(
                "Ada registers",
                value={"name": "Ada Lovelace", "email": "ada@example.com"},
                request_only=True,
            ),
            OpenApiExample(
                "Grace waits if it is full",
                value={"name": "Grace Hopper", "email": "grace@example.com", "waitlist": True},
                request_only=True,
            ),
            OpenApiExample(
                "A seat",
                value={**PLACE_EXAMPLE, "token": EXAMPLE_TOKEN},
                response_only=True,
                status_codes=[201],
            ),
            OpenApiExample(
                "A place on the waiting list",
                value={**WAITING_PLACE_EXAMPLE, "token": EXAMPLE_TOKEN},
                response_only=True,
                status_codes=[202],
            ),
        ],
    ),
    attendees=documented(
        operation_id="events_attendees",
        summary="List an event's attendees",
        description=(
            "The event's registrations in the order they were made, a page at a time. For the "
            "event's owner and staff, with a token; for anyone while the server runs with open "
            "access (local development)."
        ),
        responses={200: OpenApiResponse(AttendeeSerializer(many=True), "A page of the attendees.")},
        errors=[
            not_authenticated("No token was sent, and open access is off."),
            permission_denied(
                "The token's user is neither the event's owner nor staff, and open access is off."
            ),
            invalid("`page_size` is not a whole number from 1.", page_size=[PAGE_SIZE_MESSAGE]),
            EVENT_NOT_FOUND,
            NO_SUCH_ADDRESS,
            PAGE_NOT_FOUND,
        ],
        parameters=[EVENT_ID, *PAGE_PARAMETERS],
        examples=[
            OpenApiExample("A page of attendees", value=ATTENDEE_EXAMPLE, response_only=True)
        ],
    ),
    partial_update=documented(
        operation_id="events_partial_update",
        summary="Change an event",
        description=(
            "For the event's owner and staff, with a token, whether or not the server runs with "
            "open access. Send only the fields to change: `name`, `location`, `start_time`, "
            "`end_time`, `max_capacity`; the seat figures are the server's. The rules are those "
            "of creating an event, and two more: the capacity never drops below the attendees "
            "already registered (409 `capacity_below_attendance`), and an event that has "
            "started keeps its start (409 `event_started`; sending its start unchanged is fine). "
            "The change is made under the event's lock, so a registration cannot slip in "
            "between the check and the write; seats a raised capacity adds go to the waiting "
            "list, longest waiting first, in the same transaction. A cancelled event cannot be "
            "changed (409 `event_cancelled`)."
        ),
        request=EventSerializer,
        responses={200: OpenApiResponse(EventSerializer, "The event, as changed.")},
        parameters=[EVENT_ID],
        errors=[
            invalid(
                "A field sent is blank, too long, malformed or out of range, a datetime has no "
                "UTC offset, a new `start_time` is not in the future, or the end would not be "
                "after the start.",
                end_time=[END_BEFORE_START_MESSAGE],
            ),
            not_authenticated("No token was sent."),
            permission_denied("The token's user is neither the event's owner nor staff."),
            EVENT_NOT_FOUND,
            NO_SUCH_ADDRESS,
            EVENT_STARTED,
            CAPACITY_BELOW_ATTENDANCE,
            EVENT_CANCELLED,
        ],
        examples=[
            OpenApiExample(
                "More seats, a new room",
                value={"location": "Hall B, Dock 5, Hamburg", "max_capacity": 300},
                request_only=True,
            ),
            OpenApiExample(
                "The changed event",
                value={**EVENT_EXAMPLE, "max_capacity": 300, "seats_available": 288},
                response_only=True,
            ),
        ],
    ),
    cancel=documented(
        operation_id="events_cancel",
        summary="Cancel an event",
        description=(
            "For the event's owner and staff, with a token, whether or not the server runs with "
            'open access. The event leaves the upcoming list, keeps its page with `"status": '
            '"cancelled"`, refuses registrations and changes (409 `event_cancelled`). Its '
            "registrations and waiting places stay as records: their holders may still read and "
            "cancel them by token; nobody is promoted any more. Cancelling a cancelled event "
            "answers 200 and changes nothing; an event that has started cannot be cancelled."
        ),
        responses={200: OpenApiResponse(EventSerializer, "The event, cancelled.")},
        parameters=[EVENT_ID],
        errors=[
            not_authenticated("No token was sent."),
            permission_denied("The token's user is neither the event's owner nor staff."),
            EVENT_NOT_FOUND,
            NO_SUCH_ADDRESS,
            CANCEL_STARTED,
        ],
        examples=[
            OpenApiExample(
                "The cancelled event",
                value={**EVENT_EXAMPLE, "status": "cancelled"},
                response_only=True,
            )
        ],
    ),
    remove_attendee=documented(
        operation_id="events_attendees_destroy",
        summary="Remove an attendee",
        description=(
            "For the event's owner and staff, with a token, whether or not the server runs with "
            "open access. Removes a seated attendee or a waiting-list entry; a freed seat goes "
            "to the longest-waiting entry in the same transaction (unless the event has started "
            "or is cancelled)."
        ),
        responses={204: OpenApiResponse(description="Removed.")},
        parameters=[EVENT_ID, ATTENDEE_ID],
        errors=[
            not_authenticated("No token was sent."),
            permission_denied("The token's user is neither the event's owner nor staff."),
            EVENT_NOT_FOUND,
            ATTENDEE_NOT_FOUND,
            NO_SUCH_ADDRESS,
        ],
    ),
    waitlist=documented(
        operation_id="events_waitlist",
        summary="List an event's waiting list",
        description=(
            "The event's waiting list, the next to get a seat first, a page at a time. For the "
            "event's owner and staff, with a token; for anyone while the server runs with open "
            "access (local development)."
        ),
        responses={
            200: OpenApiResponse(AttendeeSerializer(many=True), "A page of the waiting list.")
        },
        errors=[
            not_authenticated("No token was sent, and open access is off."),
            permission_denied(
                "The token's user is neither the event's owner nor staff, and open access is off."
            ),
            invalid("`page_size` is not a whole number from 1.", page_size=[PAGE_SIZE_MESSAGE]),
            EVENT_NOT_FOUND,
            NO_SUCH_ADDRESS,
            PAGE_NOT_FOUND,
        ],
        parameters=[EVENT_ID, *PAGE_PARAMETERS],
        examples=[
            OpenApiExample("A page of the waiting list", value=ATTENDEE_EXAMPLE, response_only=True)
        ],
    ),
)

own_event_viewset_schema = extend_schema_view(
    list=documented(
        operation_id="me_events_list",
        summary="List my events",
        description=(
            "The events the caller owns (created with their token), past ones too, soonest "
            "start first (ties by id), a page at a time. For organisers and staff, with a token."
        ),
        responses={200: OpenApiResponse(EventSerializer, "A page of the caller's events.")},
        errors=[
            invalid("`page_size` is not a whole number from 1.", page_size=[PAGE_SIZE_MESSAGE]),
            not_authenticated("No token was sent."),
            permission_denied("The token's user is not an organiser."),
            PAGE_NOT_FOUND,
        ],
        examples=[OpenApiExample("A page of my events", value=EVENT_EXAMPLE, response_only=True)],
    ),
)

token_view_schema = extend_schema_view(
    post=documented(
        operation_id="auth_token_create",
        summary="Get a token",
        description=(
            "Exchanges an organiser's username and password for a bearer token, to send as "
            "`Authorization: Bearer <token>`. The token is shown once: the server keeps only its "
            "hash. Each call issues another token; each expires on its own "
            "(`DJANGO_TOKEN_TTL_DAYS`, 30 days by default). A token sent along is ignored."
        ),
        request=CredentialsSerializer,
        responses={201: OpenApiResponse(TokenSerializer, "A new token and when it expires.")},
        errors=[
            invalid(
                "`username` or `password` is missing or blank, or the body is not a JSON object.",
                password=["This field is required."],
            ),
            INVALID_CREDENTIALS,
            throttled(
                "token requests per client address (10 a minute unless configured otherwise)"
            ),
        ],
        examples=[
            OpenApiExample(
                "Nina signs in",
                value={"username": "nina", "password": "correct horse battery staple"},
                request_only=True,
            ),
            OpenApiExample(
                "Nina's token",
                value={
                    "token": "3f0c9a5e7b1d4c2a8e6f0b9d7c5a3e1f2b4d6f8a0c2e4a6b8d0f2a4c6e8b0d2f",
                    "expires_at": "2031-04-14T18:00:00.123456Z",
                },
                response_only=True,
            ),
        ],
        reads_token=False,
    ),
    delete=documented(
        operation_id="auth_token_destroy",
        summary="Revoke the token",
        description=(
            "Revokes the token this request is sent with: from now on it answers 401. The "
            "user's other tokens keep working."
        ),
        responses={204: OpenApiResponse(description="Revoked.")},
        errors=[not_authenticated("No token was sent.")],
    ),
)

registration_viewset_schema = extend_schema_view(
    retrieve=documented(
        operation_id="registrations_retrieve",
        summary="Read a registration by its token",
        description=(
            "Anyone holding the token (given once, when registering) reads the registration: "
            "`registered` with a seat, or `waitlisted` with its `position` (1 = next to get a "
            "seat). No other credential is needed or read. Never cached."
        ),
        responses={200: OpenApiResponse(PlaceSerializer, "The registration.")},
        parameters=[REGISTRATION_TOKEN],
        errors=[REGISTRATION_NOT_FOUND, NO_SUCH_TOKEN_ADDRESS],
        examples=[
            OpenApiExample("A seat", value=PLACE_EXAMPLE, response_only=True),
            OpenApiExample("Waiting", value=WAITING_PLACE_EXAMPLE, response_only=True),
        ],
        reads_token=False,
    ),
    destroy=documented(
        operation_id="registrations_destroy",
        summary="Cancel a registration by its token",
        description=(
            "Gives up the seat or the waiting place; the token stops working (a repeat answers "
            "404). A freed seat goes to the longest-waiting entry in the same transaction, "
            "unless the event has started or is cancelled."
        ),
        responses={204: OpenApiResponse(description="Cancelled.")},
        parameters=[REGISTRATION_TOKEN],
        errors=[REGISTRATION_NOT_FOUND, NO_SUCH_TOKEN_ADDRESS],
        reads_token=False,
    ),
)
