"""The OpenAPI description of check-in: door devices, the ticket key and withdrawn tickets,
admitting a ticket online or from an offline batch, undoing one, conflicts and arrivals."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from api.checkins.serializers import (
    AdmissionSerializer,
    BatchResultSerializer,
    BatchSerializer,
    ConflictSerializer,
    DeviceSerializer,
    IssuedDeviceSerializer,
    NewDeviceSerializer,
    PublicKeySerializer,
    RevokedListSerializer,
    ScanSerializer,
    StatsSerializer,
)
from api.openapi import (
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
)
from api.pagination import PAGE_SIZE_MESSAGE
from api.registrations.schema import EXAMPLE_TICKET
from core.exceptions import (
    AlreadyCheckedIn,
    CheckInNotFound,
    DeviceNotFound,
    InvalidTicket,
    NonceReused,
    NotAdmitted,
    WrongEvent,
)

NO_TOKEN = not_authenticated("No token was sent.")
NOT_OWNER = permission_denied("The token's user is neither the event's owner nor staff.")
NOT_AT_THIS_DOOR = permission_denied(
    "The token's user is neither the event's owner nor staff, or it is a door device of "
    "another event."
)
DOOR_CALLERS = (
    "For the event's owner, staff, and the event's own door devices (their bearer token)."
)
OWNER_CALLERS = "For the event's owner and staff, with a token."

INVALID_TICKET = ErrorCase(
    400,
    InvalidTicket.code,
    "Not a ticket of any event: malformed, or its signature does not hold (forged or altered). "
    "Judged before any database work.",
    InvalidTicket.message,
)
WRONG_EVENT = ErrorCase(
    409, WrongEvent.code, "A genuine ticket of another event.", WrongEvent.message
)
NOT_ADMITTED = ErrorCase(
    409,
    NotAdmitted.code,
    "A genuine ticket of this event that admits nobody: a waiting place (no seat), a cancelled "
    "or removed registration, or a cancelled event.",
    NotAdmitted.message,
)
ALREADY_CHECKED_IN = ErrorCase(
    409,
    AlreadyCheckedIn.code,
    "The ticket was admitted before; `first` (not in this example) tells when and where.",
    AlreadyCheckedIn.message,
)
NONCE_REUSED = ErrorCase(
    409,
    NonceReused.code,
    "The `nonce` was sent before with another ticket. Nothing was done.",
    NonceReused.message,
)
CHECKIN_NOT_FOUND = ErrorCase(
    404, CheckInNotFound.code, "The event has no check-in with this id.", CheckInNotFound.message,
    label="no such check-in",
)  # fmt: skip
DEVICE_NOT_FOUND = ErrorCase(
    404, DeviceNotFound.code, "The event has no working device with this id (or it was revoked).",
    DeviceNotFound.message, label="no such device",
)  # fmt: skip

PAGE_SIZE = invalid("`page_size` is not a whole number from 1.", page_size=[PAGE_SIZE_MESSAGE])
DEVICE_ID = OpenApiParameter(
    "device_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The device's id."
)
CHECKIN_ID = OpenApiParameter(
    "checkin_id",
    OpenApiTypes.INT,
    OpenApiParameter.PATH,
    description="The check-in's id, as its 201 answered.",
)
SINCE = OpenApiParameter(
    "since",
    OpenApiTypes.DATETIME,
    description="Only tickets withdrawn at or after this instant (ISO 8601 with an offset).",
)
BUCKET = OpenApiParameter(
    "bucket",
    OpenApiTypes.STR,
    description="The width of an arrivals bucket: minutes or hours up to a day (`5m`, `1h`).",
    default="5m",
)

ADMISSION_EXAMPLE = {
    "id": 7,
    "registration": 22,
    "name": "Ada Lovelace",
    "checked_in_at": "2030-12-01T18:02:11.123456Z",
    "device": {"id": 3, "name": "Gate A"},
}

devices_schema = documented(
    operation_id="events_devices_list",
    summary="List an event's door devices",
    description=f"{OWNER_CALLERS} Revoked devices too; tokens are never shown again.",
    responses={
        200: OpenApiResponse(DeviceSerializer(many=True), "A page of devices, oldest first.")
    },
    parameters=[EVENT_ID, *PAGE_PARAMETERS],
    errors=[NO_TOKEN, NOT_OWNER, EVENT_NOT_FOUND, NO_SUCH_ADDRESS, PAGE_NOT_FOUND, PAGE_SIZE],
    examples=[
        OpenApiExample(
            "A page of devices",
            value={
                "id": 3,
                "name": "Gate A",
                "created_at": "2030-12-01T08:00:00Z",
                "revoked_at": None,
            },
            response_only=True,
        )
    ],
)

create_device_schema = documented(
    operation_id="events_devices_create",
    summary="Create a door device",
    description=(
        f"{OWNER_CALLERS} Answers the device's bearer token, once: only its hash is kept. The "
        "token checks tickets in at this event and reads its key and withdrawn tickets; it "
        "reads nothing else (no attendee, no email, no other event). It works until revoked "
        "or 12 hours after the event ends."
    ),
    request=NewDeviceSerializer,
    responses={201: OpenApiResponse(IssuedDeviceSerializer, "The device, with its token.")},
    parameters=[EVENT_ID],
    errors=[
        invalid("`name` is missing, blank or too long.", name=["This field is required."]),
        NO_TOKEN,
        NOT_OWNER,
        EVENT_NOT_FOUND,
        NO_SUCH_ADDRESS,
    ],
    examples=[
        OpenApiExample("Gate A", value={"name": "Gate A"}, request_only=True),
        OpenApiExample(
            "Its token",
            value={"id": 3, "name": "Gate A", "token": "door_" + "4f" * 32},
            response_only=True,
        ),
    ],
)

revoke_device_schema = documented(
    operation_id="events_devices_destroy",
    summary="Revoke a door device",
    description=f"{OWNER_CALLERS} Its token stops working at once; its check-ins stay.",
    responses={204: OpenApiResponse(description="Revoked.")},
    parameters=[EVENT_ID, DEVICE_ID],
    errors=[NO_TOKEN, NOT_OWNER, EVENT_NOT_FOUND, DEVICE_NOT_FOUND, NO_SUCH_ADDRESS],
)

public_key_schema = documented(
    operation_id="events_checkin_key",
    summary="The event's ticket key",
    description=(
        f"{DOOR_CALLERS} The Ed25519 public key that verifies the event's tickets, so a "
        "scanner judges a ticket offline. The private key is never shown."
    ),
    responses={200: OpenApiResponse(PublicKeySerializer, "The key.")},
    parameters=[EVENT_ID],
    errors=[NO_TOKEN, NOT_AT_THIS_DOOR, EVENT_NOT_FOUND, NO_SUCH_ADDRESS],
    examples=[
        OpenApiExample(
            "Ed25519",
            value={
                "event": 10,
                "algorithm": "Ed25519",
                "public_key": "0Bsm2Y3e9fJQK6ZcVh0l3H0rDkS8zM6i1xw0Hc2Yx8Q",
                "public_key_pem": "-----BEGIN PUBLIC KEY-----\n…\n-----END PUBLIC KEY-----\n",
                "ticket_format": "108 characters of URL-safe Base64 …",
            },
            response_only=True,
        )
    ],
)

revoked_schema = documented(
    operation_id="events_checkin_revoked",
    summary="The event's withdrawn tickets",
    description=(
        f"{DOOR_CALLERS} Tickets of seats given up, removed by the organiser, or of the "
        "cancelled event: an offline scanner refuses them. Ask again with `since` set to the "
        "last answer's `next_since`."
    ),
    responses={200: OpenApiResponse(RevokedListSerializer, "The withdrawn tickets.")},
    parameters=[EVENT_ID, SINCE],
    errors=[
        invalid("`since` is not an ISO 8601 datetime with an offset.", since=["Enter …"]),
        NO_TOKEN,
        NOT_AT_THIS_DOOR,
        EVENT_NOT_FOUND,
        NO_SUCH_ADDRESS,
    ],
    examples=[
        OpenApiExample(
            "One cancelled",
            value={
                "revoked": [
                    {
                        "registration": 22,
                        "ticket": EXAMPLE_TICKET,
                        "reason": "cancelled",
                        "revoked_at": "2030-11-30T10:00:00Z",
                    }
                ],
                "next_since": "2030-12-01T07:59:00Z",
            },
            response_only=True,
        )
    ],
)

check_in_schema = documented(
    operation_id="events_checkins_create",
    summary="Check a ticket in",
    description=(
        f"{DOOR_CALLERS} Admits the ticket's holder exactly once: of any number of gates "
        "scanning one ticket at the same instant, one gets 201 and the others 409 "
        "`already_checked_in`, with `first` telling when and at which device it was admitted. "
        "A forged, altered or malformed ticket answers 400 `invalid_ticket` before any database "
        "work; another event's, 409 `wrong_event`.\n\n"
        "The same `nonce` sent again by the same caller (a retry after a timeout) gets the "
        "first answer again, and admits nobody twice."
    ),
    request=ScanSerializer,
    responses={201: OpenApiResponse(AdmissionSerializer, "Admitted.")},
    parameters=[EVENT_ID],
    errors=[
        invalid("`ticket` or `nonce` is missing or blank.", nonce=["This field is required."]),
        INVALID_TICKET,
        NO_TOKEN,
        NOT_AT_THIS_DOOR,
        EVENT_NOT_FOUND,
        NO_SUCH_ADDRESS,
        ALREADY_CHECKED_IN,
        NOT_ADMITTED,
        WRONG_EVENT,
        NONCE_REUSED,
    ],
    examples=[
        OpenApiExample(
            "A scan",
            value={"ticket": EXAMPLE_TICKET, "nonce": "0b9f3c52-3e0a-4c55-9d6e-1f0c2b8a7d41"},
            request_only=True,
        ),
        OpenApiExample("Admitted", value=ADMISSION_EXAMPLE, response_only=True),
    ],
)

batch_schema = documented(
    operation_id="events_checkins_batch",
    summary="Upload a scanner's offline scans",
    description=(
        f"{DOOR_CALLERS} Up to 500 scans made offline, each an admission at the door, in one "
        "transaction; each one's `outcome` in the order sent: `admitted`, "
        "`already_checked_in`, `not_admitted`, `wrong_event` or `invalid_ticket`. A `nonce` "
        "sent before keeps its first outcome.\n\n"
        "When one ticket was admitted twice (two scanners offline, or offline after online), "
        "the earliest `scanned_at` is the check-in and every other admission is a conflict, "
        "listed by `GET /api/events/{id}/checkins/conflicts/` (`already_checked_in` here)."
    ),
    request=BatchSerializer,
    responses={200: OpenApiResponse(BatchResultSerializer, "Each scan's outcome.")},
    parameters=[EVENT_ID],
    errors=[
        invalid(
            "`scans` is missing, empty, longer than 500, or a scan lacks its `ticket`, `nonce` "
            "or `scanned_at` (ISO 8601 with an offset).",
            scans=["Ensure this field has no more than 500 elements."],
        ),
        NO_TOKEN,
        NOT_AT_THIS_DOOR,
        EVENT_NOT_FOUND,
        NO_SUCH_ADDRESS,
        ErrorCase(
            409,
            NonceReused.code,
            "A scan's `nonce` was sent before with another ticket. "
            "Nothing of the batch was recorded.",
            NonceReused.message,
        ),
    ],
    examples=[
        OpenApiExample(
            "Two scans",
            value={
                "scans": [
                    {"ticket": EXAMPLE_TICKET, "nonce": "a1", "scanned_at": "2030-12-01T18:01Z"},
                    {"ticket": "garbage", "nonce": "a2", "scanned_at": "2030-12-01T18:02Z"},
                ]
            },
            request_only=True,
        ),
        OpenApiExample(
            "Their outcomes",
            value={
                "results": [
                    {"nonce": "a1", "outcome": "admitted"},
                    {"nonce": "a2", "outcome": "invalid_ticket"},
                ]
            },
            response_only=True,
        ),
    ],
)

undo_check_in_schema = documented(
    operation_id="events_checkins_destroy",
    summary="Undo a check-in",
    description=f"{DOOR_CALLERS} Undoes a mistaken admission: the ticket may be scanned again.",
    responses={204: OpenApiResponse(description="Undone.")},
    parameters=[EVENT_ID, CHECKIN_ID],
    errors=[NO_TOKEN, NOT_AT_THIS_DOOR, EVENT_NOT_FOUND, CHECKIN_NOT_FOUND, NO_SUCH_ADDRESS],
)

conflicts_schema = documented(
    operation_id="events_checkins_conflicts",
    summary="Tickets admitted twice",
    description=(
        f"{DOOR_CALLERS} Each double admission the offline scanners reported: the ticket, "
        "`first` (which stands as its check-in) and `again`, each with its device and time."
    ),
    responses={200: OpenApiResponse(ConflictSerializer(many=True), "A page of conflicts.")},
    parameters=[EVENT_ID, *PAGE_PARAMETERS],
    errors=[
        NO_TOKEN,
        NOT_AT_THIS_DOOR,
        EVENT_NOT_FOUND,
        NO_SUCH_ADDRESS,
        PAGE_NOT_FOUND,
        PAGE_SIZE,
    ],
    examples=[
        OpenApiExample(
            "Two gates offline",
            value={
                "id": 1,
                "registration": 22,
                "ticket": EXAMPLE_TICKET,
                "name": "Ada Lovelace",
                "first": {"device": {"id": 3, "name": "Gate A"}, "at": "2030-12-01T18:01Z"},
                "again": {"device": {"id": 4, "name": "Gate B"}, "at": "2030-12-01T18:04Z"},
                "recorded_at": "2030-12-01T18:30:00Z",
            },
            response_only=True,
        )
    ],
)

stats_schema = documented(
    operation_id="events_checkins_stats",
    summary="Arrivals at the door",
    description=(
        f"{DOOR_CALLERS} How many are checked in of the seats taken, how many have not arrived, "
        "the conflicts, and arrivals per `bucket` of time (UTC-aligned; empty buckets between "
        "the first and the last arrival are listed with 0)."
    ),
    responses={200: OpenApiResponse(StatsSerializer, "The counts.")},
    parameters=[EVENT_ID, BUCKET],
    errors=[
        invalid("`bucket` is not minutes or hours up to a day.", bucket=["Enter a bucket …"]),
        NO_TOKEN,
        NOT_AT_THIS_DOOR,
        EVENT_NOT_FOUND,
        NO_SUCH_ADDRESS,
    ],
    examples=[
        OpenApiExample(
            "Doors open",
            value={
                "checked_in_count": 2,
                "seats_taken": 120,
                "not_yet_arrived": 118,
                "conflicts": 0,
                "bucket": "5m",
                "arrivals": [
                    {"start": "2030-12-01T18:00:00Z", "count": 1},
                    {"start": "2030-12-01T18:05:00Z", "count": 1},
                ],
            },
            response_only=True,
        )
    ],
)
