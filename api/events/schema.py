"""The OpenAPI description of the event operations: list, create, read, change, cancel."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema_view

from api.datetimes import NAIVE_DATETIME_MESSAGE
from api.events.serializers import EventSerializer
from api.openapi import (
    EVENT_CANCELLED,
    EVENT_ID,
    EVENT_NOT_FOUND,
    NO_SUCH_ADDRESS,
    PAGE_NOT_FOUND,
    ErrorCase,
    documented,
    invalid,
    not_authenticated,
    permission_denied,
    rate_in_words,
    throttled,
)
from core.exceptions import CapacityBelowAttendance, EventStarted
from core.models import (
    CAPACITY_BELOW_ATTENDANCE_MESSAGE,
    END_BEFORE_START_MESSAGE,
    MAX_CAPACITY_LIMIT,
)
from core.services import CANCEL_STARTED_MESSAGE

CANCEL_STARTED = ErrorCase(
    409, EventStarted.code, "The event has already started.", CANCEL_STARTED_MESSAGE
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
            f"`max_capacity` is from 1 to {MAX_CAPACITY_LIMIT:,}."
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
            throttled(
                f"event creations per user ({rate_in_words('create')} unless configured otherwise)"
            ),
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
        description=(
            "Any event, past ones too, with its live seat figures. Its owner, staff and its "
            "door devices (api/checkins) also see `checked_in_count`: how many have been "
            "admitted at the door."
        ),
        responses={200: OpenApiResponse(EventSerializer, "The event.")},
        parameters=[EVENT_ID],
        errors=[EVENT_NOT_FOUND, NO_SUCH_ADDRESS],
        examples=[OpenApiExample("An event", value=EVENT_EXAMPLE, response_only=True)],
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
            throttled(
                f"organisers' changes per user ({rate_in_words('organise')} unless "
                "configured otherwise)"
            ),
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
            throttled(
                f"organisers' changes per user ({rate_in_words('organise')} unless "
                "configured otherwise)"
            ),
        ],
        examples=[
            OpenApiExample(
                "The cancelled event",
                value={**EVENT_EXAMPLE, "status": "cancelled"},
                response_only=True,
            )
        ],
    ),
)
