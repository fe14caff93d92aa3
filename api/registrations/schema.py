"""The OpenAPI description of registrations: registering for an event, its attendees and
waiting list, removing an attendee, and a registration read or cancelled by its token."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema_view,
)

from api.exceptions import NOT_FOUND_MESSAGE
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
from api.registrations.serializers import (
    AttendeeSerializer,
    NewPlaceSerializer,
    PlaceSerializer,
    RegistrationDataSerializer,
    RegistrationSerializer,
)
from core.exceptions import (
    AlreadyRegistered,
    AnswersRequired,
    AttendeeNotFound,
    EventFull,
    NoTicket,
    RegistrationClosed,
    RegistrationNotFound,
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
ANSWERS_REQUIRED = ErrorCase(
    409,
    AnswersRequired.code,
    "No `answers` were sent, and a required question was added to the event while the "
    "request was on its way (otherwise that is a 400 naming the question).",
    AnswersRequired.message,
)
REGISTRATION_CLOSED = ErrorCase(
    409,
    RegistrationClosed.code,
    "The event has already started.",
    RegistrationClosed.message,
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
ATTENDEE_EXAMPLE = {
    "id": 22,
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "registered_at": "2030-11-29T12:00:00.123456Z",
    "answers": {"7": "vegan"},
}
# A seat's ticket (core/tickets.py).
EXAMPLE_TICKET = (
    "AQAAAAAAAAAKAAAAAAAAABYv0rUPBvKcvAPPJXimHZBG8FTtk73fQB"
    "jKrKi_LLHeTYygY4icbMf-FH1hZ2mXIZuVKmZLozAD7It78ijljCwI"
)
PLACE_EXAMPLE = {
    "id": 22,
    "event": 10,
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "status": "registered",
    "position": None,
    "registered_at": "2030-11-29T12:00:00.123456Z",
    "answers": {},
    "ticket": EXAMPLE_TICKET,
}
WAITING_PLACE_EXAMPLE = {
    **PLACE_EXAMPLE,
    "id": 231,
    "status": "waitlisted",
    "position": 3,
    "ticket": None,
}
EXAMPLE_TOKEN = "q0Wn3Vd8sYp1cT5mZ2xK7rL9bF4hJ6uA0eG3iO8tN1w"


register_schema = documented(
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
        "`DELETE` cancels it. Keep it like a password.\n\n"
        "An event may ask questions (`GET /api/events/{id}/questions/`): `answers` gives them "
        "by question id. Each is checked against its question: a required one missing, an "
        "unknown choice, a text too long, an answer of the wrong kind or an unknown question "
        "id answers 400 with the message under `errors.answers.<question id>`. Answers are "
        "kept as given, shown to the event's owner and to the token's holder, never to the "
        "public.\n\n"
        'An event with `requires_approval` answers 202 `"status": "pending"`: the '
        "request holds no seat and no waiting place until the owner approves it (a seat if "
        "one is free, else the waiting list) or declines it; the attendee is emailed each "
        'step. A full event still refuses a request that does not say `"waitlist": true`, '
        "and a pending request counts as a registration of its email."
    ),
    request=RegistrationSerializer,
    responses={
        201: OpenApiResponse(NewPlaceSerializer, "A seat is taken."),
        202: OpenApiResponse(
            NewPlaceSerializer,
            "The event is full: a place on its waiting list is taken; or the event requires "
            "approval: the request is `pending`, holding no seat until its owner approves it.",
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
        invalid(
            "An answer does not fit its question (see above).",
            answers={"7": ["This question requires an answer."]},
        ),
        EVENT_FULL,
        ALREADY_REGISTERED,
        REGISTRATION_CLOSED,
        EVENT_CANCELLED,
        ANSWERS_REQUIRED,
        throttled(
            f"registrations per client address ({rate_in_words('register')} unless configured "
            "otherwise)"
        ),
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
            "Ada answers the event's questions",
            value={
                "name": "Ada Lovelace",
                "email": "ada@example.com",
                "answers": {"7": "vegan", "8": ["S"], "9": True},
            },
            request_only=True,
        ),
        OpenApiExample(
            "A place on the waiting list",
            value={**WAITING_PLACE_EXAMPLE, "token": EXAMPLE_TOKEN},
            response_only=True,
            status_codes=[202],
        ),
        OpenApiExample(
            "A request awaiting approval",
            value={**PLACE_EXAMPLE, "status": "pending", "token": EXAMPLE_TOKEN},
            response_only=True,
            status_codes=[202],
        ),
    ],
)
remove_attendee_schema = documented(
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
        throttled(
            f"organisers' changes per user ({rate_in_words('organise')} unless configured "
            "otherwise)"
        ),
    ],
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
            "Gives up the seat, the waiting place or the pending request; the token stops "
            "working (a repeat answers 404). A freed seat goes to the longest-waiting entry in "
            "the same transaction, unless the event has started or is cancelled.\n\n"
            "With `?erase=true` the personal data goes too, at once: the name, email and "
            "answers, the emails' copies of them (none is sent any more, a goodbye neither) and "
            "the kept answer to the registration request. The seat counts stay true; the "
            "erasure is recorded without the data."
        ),
        responses={204: OpenApiResponse(description="Cancelled (and erased).")},
        parameters=[
            REGISTRATION_TOKEN,
            OpenApiParameter(
                "erase",
                OpenApiTypes.BOOL,
                description="`true`: erase the personal data with the cancellation.",
            ),
        ],
        errors=[
            invalid("`erase` is not a boolean.", erase=["Must be a valid boolean."]),
            REGISTRATION_NOT_FOUND,
            NO_SUCH_TOKEN_ADDRESS,
            throttled(
                f"cancellations per client address ({rate_in_words('cancel')} unless "
                "configured otherwise)"
            ),
        ],
        reads_token=False,
    ),
)


def _registrations_page_schema(
    *, operation_id: str, summary: str, rows: str, page_of: str, example: str
):
    """An event's list of registrations, a page at a time: the attendees or the waiting list."""
    return documented(
        operation_id=operation_id,
        summary=summary,
        description=(
            f"{rows}, a page at a time. For the event's owner and staff, with a token; for "
            "anyone while the server runs with open access (local development)."
        ),
        responses={200: OpenApiResponse(AttendeeSerializer(many=True), f"A page of {page_of}.")},
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
        examples=[OpenApiExample(example, value=ATTENDEE_EXAMPLE, response_only=True)],
    )


attendees_schema = _registrations_page_schema(
    operation_id="events_attendees",
    summary="List an event's attendees",
    rows="The event's registrations in the order they were made",
    page_of="the attendees",
    example="A page of attendees",
)
waitlist_schema = _registrations_page_schema(
    operation_id="events_waitlist",
    summary="List an event's waiting list",
    rows="The event's waiting list, the next to get a seat first",
    page_of="the waiting list",
    example="A page of the waiting list",
)


registration_data_schema = documented(
    operation_id="registrations_data",
    summary="Everything stored about a registration",
    description=(
        "For the holder of the token, to take away: the registration, its event, its answers "
        "(with their questions' labels now; null for a question removed since), the statuses "
        "it went through with their times, and every email about it with when it was queued "
        "and sent. Never cached."
    ),
    responses={200: OpenApiResponse(RegistrationDataSerializer, "The registration's data.")},
    parameters=[REGISTRATION_TOKEN],
    errors=[REGISTRATION_NOT_FOUND, NO_SUCH_TOKEN_ADDRESS],
    examples=[
        OpenApiExample(
            "A seat",
            value={
                "registration": {**PLACE_EXAMPLE, "answers": {"7": "vegan"}},
                "event": {
                    "id": 10,
                    "name": "Launch Party",
                    "location": "Dock 5",
                    "start_time": "2031-03-15T18:00:00Z",
                    "end_time": "2031-03-15T22:00:00Z",
                },
                "answers": [{"question": "7", "label": "Diet", "answer": "vegan"}],
                "status_history": [{"status": "registered", "at": "2030-11-29T12:00:00.123456Z"}],
                "emails": [
                    {
                        "kind": "registered",
                        "status": "sent",
                        "queued_at": "2030-11-29T12:00:00.123456Z",
                        "sent_at": "2030-11-29T12:00:01.523456Z",
                    }
                ],
            },
            response_only=True,
        )
    ],
    reads_token=False,
)
NO_TICKET = ErrorCase(
    409, NoTicket.code, "The registration waits for a seat: no ticket yet.", NoTicket.message
)


def _ticket_image_schema(*, kind: str, media_type: str):
    return documented(
        operation_id=f"registrations_ticket_{kind}",
        summary=f"A seat's ticket as a QR code ({kind.upper()})",
        description=(
            "The ticket (`ticket` of the registration) drawn as a QR code, for a phone's screen "
            "or a printout; the door scans it. The token in the path is the only credential. "
            "Never cached."
        ),
        responses={
            (200, media_type): OpenApiResponse(OpenApiTypes.BINARY, "The QR code."),
        },
        parameters=[REGISTRATION_TOKEN],
        errors=[REGISTRATION_NOT_FOUND, NO_SUCH_TOKEN_ADDRESS, NO_TICKET],
        reads_token=False,
    )


ticket_svg_schema = _ticket_image_schema(kind="svg", media_type="image/svg+xml")
ticket_png_schema = _ticket_image_schema(kind="png", media_type="image/png")
