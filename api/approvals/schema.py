"""The OpenAPI description of an event's pending requests: list, approve, decline."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from api.approvals.serializers import DeclineSerializer
from api.openapi import (
    EVENT_CANCELLED,
    EVENT_ID,
    EVENT_NOT_FOUND,
    NO_SUCH_ADDRESS,
    PAGE_NOT_FOUND,
    PAGE_PARAMETERS,
    ErrorCase,
    documented,
    invalid,
    not_authenticated,
    permission_denied,
    rate_in_words,
    throttled,
)
from api.pagination import PAGE_SIZE_MESSAGE
from api.registrations.schema import ATTENDEE_EXAMPLE, PLACE_EXAMPLE, REGISTRATION_CLOSED
from api.registrations.serializers import AttendeeSerializer, PlaceSerializer
from core.exceptions import RequestNotPending

ATTENDEE_ID = OpenApiParameter(
    "attendee_id",
    OpenApiTypes.INT,
    OpenApiParameter.PATH,
    description="The request's id, as the pending list shows it.",
)
REQUEST_NOT_PENDING = ErrorCase(
    404,
    RequestNotPending.code,
    "The event has no request awaiting approval with this id (decided already, cancelled, or "
    "another event's).",
    RequestNotPending.message,
    label="no such request",
)
OWNER_ONLY = [
    not_authenticated("No token was sent."),
    permission_denied("The token's user is neither the event's owner nor staff."),
]
ORGANISE_BUDGET = throttled(
    f"organisers' changes per user ({rate_in_words('organise')} unless configured otherwise)"
)

pending_schema = documented(
    operation_id="events_pending",
    summary="List an event's pending requests",
    description=(
        "Registrations awaiting the owner's approval (an event with `requires_approval`), "
        "oldest first, with their answers. A pending request holds no seat and no waiting "
        "place. For the event's owner and staff, with a token; for anyone while the server runs "
        "with open access (local development)."
    ),
    responses={200: OpenApiResponse(AttendeeSerializer(many=True), "A page of requests.")},
    parameters=[EVENT_ID, *PAGE_PARAMETERS],
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
    examples=[OpenApiExample("A request", value=ATTENDEE_EXAMPLE, response_only=True)],
)
approve_schema = documented(
    operation_id="events_pending_approve",
    summary="Approve a pending request",
    description=(
        "For the event's owner and staff. Under the event's lock, as every seat is taken: a "
        "seat if one is free and nobody waits (`registered`), else a place on the waiting list "
        "(`waitlisted`, with its `position`). The attendee is emailed."
    ),
    responses={200: OpenApiResponse(PlaceSerializer, "The registration, approved.")},
    parameters=[EVENT_ID, ATTENDEE_ID],
    errors=[
        *OWNER_ONLY,
        EVENT_NOT_FOUND,
        REQUEST_NOT_PENDING,
        NO_SUCH_ADDRESS,
        EVENT_CANCELLED,
        REGISTRATION_CLOSED,
        ORGANISE_BUDGET,
    ],
    examples=[OpenApiExample("A seat", value=PLACE_EXAMPLE, response_only=True)],
)
decline_schema = documented(
    operation_id="events_pending_decline",
    summary="Decline a pending request",
    description=(
        "For the event's owner and staff. The request is deleted (it held no seat) and the "
        "attendee emailed, with `message` if one is sent. The body may be empty."
    ),
    request=DeclineSerializer,
    responses={204: OpenApiResponse(description="Declined.")},
    parameters=[EVENT_ID, ATTENDEE_ID],
    errors=[
        *OWNER_ONLY,
        invalid("`message` is longer than 2000 characters.", message=["Too long."]),
        EVENT_NOT_FOUND,
        REQUEST_NOT_PENDING,
        NO_SUCH_ADDRESS,
        ORGANISE_BUDGET,
    ],
    examples=[
        OpenApiExample(
            "With a message",
            value={"message": "Sorry, this workshop is for members only."},
            request_only=True,
        )
    ],
)
