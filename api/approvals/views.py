"""Pending requests of an event that requires approval: listed, approved or declined by the
event's owner or staff (actions composed into api.events.views.EventViewSet). Every rule is
core.services'."""

from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.approvals.schema import approve_schema, decline_schema, pending_schema
from api.approvals.serializers import DeclineSerializer
from api.permissions import IsEventOwnerOrStaff, OpenAccess
from api.registrations.serializers import AttendeeSerializer, PlaceSerializer
from core.selectors import pending_requests
from core.services import approve_registration, decline_registration

PENDING_PATH = r"pending/(?P<attendee_id>[0-9]+)"


class EventApprovalsMixin:
    """An event's pending requests, as actions of the event's viewset."""

    permission_classes_by_action = {
        "pending": [OpenAccess | IsEventOwnerOrStaff],
        "approve": [IsEventOwnerOrStaff],
        "decline": [IsEventOwnerOrStaff],
    }
    throttle_scopes = {"approve": "organise", "decline": "organise"}
    event_fields_by_action = {
        "pending": ("owner_id",),
        "approve": ("owner_id",),
        "decline": ("owner_id",),
    }

    @pending_schema
    @action(detail=True, methods=["get"], serializer_class=AttendeeSerializer)
    def pending(self, request, pk=None):
        """The event's requests awaiting approval, oldest first, paginated."""
        event = self.get_object()
        page = self.paginate_queryset(pending_requests(event_id=event.pk))
        return self.get_paginated_response(AttendeeSerializer(page, many=True).data)

    @approve_schema
    @action(
        detail=True,
        methods=["post"],
        url_path=f"{PENDING_PATH}/approve",
        serializer_class=PlaceSerializer,
    )
    def approve(self, request, pk=None, attendee_id=None):
        """Approve a request: a seat if one is free, else a place on the waiting list."""
        place = approve_registration(event_id=self.get_object().pk, attendee_id=int(attendee_id))
        return Response(PlaceSerializer(place).data)

    @decline_schema
    @action(
        detail=True,
        methods=["post"],
        url_path=f"{PENDING_PATH}/decline",
        serializer_class=DeclineSerializer,
    )
    def decline(self, request, pk=None, attendee_id=None):
        """Decline a request, with an optional message for the attendee."""
        event = self.get_object()
        serializer = DeclineSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        decline_registration(
            event_id=event.pk,
            attendee_id=int(attendee_id),
            message=serializer.validated_data["message"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
