"""The OpenAPI description of an event's questions."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema_view,
)

from api.openapi import (
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
from api.questions.serializers import CHOICES_NEEDED_MESSAGE, QuestionSerializer
from core.exceptions import QuestionNotFound

EVENT_ID = OpenApiParameter(
    "event_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The event's id."
)
QUESTION_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The question's id."
)
QUESTION_NOT_FOUND = ErrorCase(
    404,
    QuestionNotFound.code,
    "The event has no question with this id (removed already, or another event's).",
    QuestionNotFound.message,
    label="no such question",
)
QUESTION_EXAMPLE = {
    "id": 7,
    "label": "Diet",
    "kind": "choice",
    "choices": ["none", "vegetarian", "vegan"],
    "required": True,
    "max_length": None,
    "position": 1,
}
OWNER_ONLY = [
    not_authenticated("No token was sent."),
    permission_denied("The token's user is neither the event's owner nor staff."),
]
ORGANISE_BUDGET = throttled(
    f"organisers' changes per user ({rate_in_words('organise')} unless configured otherwise)"
)
INVALID_QUESTION = invalid(
    "A field is missing or malformed: an unknown `kind`, a choice question without `choices`, "
    "`choices` or `max_length` on a kind that has none, a repeated choice.",
    choices=[CHOICES_NEEDED_MESSAGE],
)
QUESTION_BODY = [
    OpenApiExample(
        "A choice",
        value={k: v for k, v in QUESTION_EXAMPLE.items() if k != "id"},
        request_only=True,
    ),
    OpenApiExample(
        "A text",
        value={"label": "Company", "kind": "text", "max_length": 100},
        request_only=True,
    ),
]
ABOUT = (
    "Answers are given when registering (`answers`: {question id: answer}) and kept as given: "
    "a question changed or removed later leaves them, a removed choice stays readable in them."
)

question_viewset_schema = extend_schema_view(
    list=documented(
        operation_id="events_questions_list",
        summary="List an event's questions",
        description="What the event asks its registrants, in order, for anyone. " + ABOUT,
        responses={200: OpenApiResponse(QuestionSerializer(many=True), "A page of questions.")},
        parameters=[EVENT_ID, *PAGE_PARAMETERS],
        errors=[
            invalid("`page_size` is not a whole number from 1.", page_size=[PAGE_SIZE_MESSAGE]),
            EVENT_NOT_FOUND,
            NO_SUCH_ADDRESS,
            PAGE_NOT_FOUND,
        ],
        examples=[OpenApiExample("A question", value=QUESTION_EXAMPLE, response_only=True)],
    ),
    create=documented(
        operation_id="events_questions_create",
        summary="Add a question",
        description="For the event's owner and staff. " + ABOUT,
        request=QuestionSerializer,
        responses={201: OpenApiResponse(QuestionSerializer, "The question.")},
        parameters=[EVENT_ID],
        errors=[*OWNER_ONLY, INVALID_QUESTION, EVENT_NOT_FOUND, NO_SUCH_ADDRESS, ORGANISE_BUDGET],
        examples=[
            *QUESTION_BODY,
            OpenApiExample(
                "The question", value=QUESTION_EXAMPLE, response_only=True, status_codes=[201]
            ),
        ],
    ),
    partial_update=documented(
        operation_id="events_questions_partial_update",
        summary="Change a question",
        description="For the event's owner and staff: send only the fields that change. " + ABOUT,
        request=QuestionSerializer,
        responses={200: OpenApiResponse(QuestionSerializer, "The question.")},
        parameters=[EVENT_ID, QUESTION_ID],
        errors=[
            *OWNER_ONLY,
            INVALID_QUESTION,
            EVENT_NOT_FOUND,
            QUESTION_NOT_FOUND,
            NO_SUCH_ADDRESS,
            ORGANISE_BUDGET,
        ],
        examples=[
            *QUESTION_BODY,
            OpenApiExample("The question", value=QUESTION_EXAMPLE, response_only=True),
        ],
    ),
    destroy=documented(
        operation_id="events_questions_destroy",
        summary="Remove a question",
        description="For the event's owner and staff. " + ABOUT,
        responses={204: OpenApiResponse(description="Removed.")},
        parameters=[EVENT_ID, QUESTION_ID],
        errors=[*OWNER_ONLY, EVENT_NOT_FOUND, QUESTION_NOT_FOUND, NO_SUCH_ADDRESS, ORGANISE_BUDGET],
    ),
)
