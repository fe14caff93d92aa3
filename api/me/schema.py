"""The OpenAPI description of the caller's own events."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema_view

from api.events.schema import EVENT_EXAMPLE
from api.events.serializers import EventSerializer
from api.openapi import (
    PAGE_NOT_FOUND,
    documented,
    invalid,
    not_authenticated,
    permission_denied,
)
from api.pagination import PAGE_SIZE_MESSAGE

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
