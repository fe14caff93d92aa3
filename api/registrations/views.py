"""Registrations: registering for an event, its attendees and waiting list, removing an
attendee (actions on an event, composed into api.events.views.EventViewSet), and a registration
read or cancelled by its token. Every rule is core.services'."""

from django.http import HttpResponse
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from api.caching import cacheable
from api.events.lookup import event_id_of
from api.idempotency import REPLAYED_HEADER, idempotent
from api.pagination import Counted
from api.permissions import IsEventOwnerOrStaff, OpenAccess
from api.registrations.schema import (
    attendees_schema,
    register_schema,
    registration_data_schema,
    registration_viewset_schema,
    remove_attendee_schema,
    ticket_png_schema,
    ticket_svg_schema,
    waitlist_schema,
)
from api.registrations.serializers import (
    AttendeeSerializer,
    ErasureSerializer,
    NewPlaceSerializer,
    PlaceSerializer,
    RegistrationDataSerializer,
    RegistrationSerializer,
    ticket_of,
)
from core.exceptions import (
    AnswersRequired,
    DomainError,
    EventNotFound,
    NoTicket,
    RegistrationNotFound,
)
from core.models import Event
from core.qr import ticket_png, ticket_svg
from core.rules import RegistrationOutcome
from core.selectors import event_attendees, place_by_token, registration_data, waiting_list
from core.services import (
    cancel_registration_by_token,
    erase_registration_by_token,
    register_attendee,
    remove_attendee,
)
from core.versions import Stamp
from event_management_system.ops.metrics import count_registration

# The answer to a place taken; a refusal's is its error's (api/exceptions.py).
STATUS_OF_PLACE = {
    RegistrationOutcome.SEAT: status.HTTP_201_CREATED,
    RegistrationOutcome.WAITING_PLACE: status.HTTP_202_ACCEPTED,
    RegistrationOutcome.PENDING: status.HTTP_202_ACCEPTED,
}
# The metric's label for a registration refused its request budget, before any rule ran.
THROTTLED = "throttled"


class EventRegistrationsMixin:
    """An event's registrations, as actions of the event's viewset (its `get_object` finds the
    event, or answers EventNotFound): register, list the attendees and the waiting list,
    remove an attendee."""

    # Who may call each action (api/permissions.py); register is open to anyone.
    permission_classes_by_action = {
        "remove_attendee": [IsEventOwnerOrStaff],
        "attendees": [OpenAccess | IsEventOwnerOrStaff],
        "waitlist": [OpenAccess | IsEventOwnerOrStaff],
    }
    # The request budget each write spends (api/throttling.py).
    throttle_scopes = {"register": "register", "remove_attendee": "organise"}
    # What each action reads of the event: who owns it, and the counter its list is counted by;
    # remove_attendee's service reads the rest under the event's lock.
    event_fields_by_action = {
        "attendees": ("owner_id", "seats_taken"),
        "waitlist": ("owner_id", "waitlist_taken"),
        "remove_attendee": ("owner_id",),
    }

    @register_schema
    @idempotent
    @action(detail=True, methods=["post"], serializer_class=RegistrationSerializer)
    def register(self, request, pk=None):
        """Register an attendee: 201 with a seat, 202 with a waiting place (`"waitlist": true`
        and the event full); 409 with a code when the event is full, closed, cancelled or a
        repeat."""
        event_id = event_id_of(pk)
        serializer = RegistrationSerializer(data=request.data, context={"event_id": event_id})
        if not serializer.is_valid():
            # An unknown event is the first thing wrong with the request, whatever its body.
            self._ensure_event_exists(pk)
            serializer.is_valid(raise_exception=True)
        try:
            registration = register_attendee(event_id=event_id, **serializer.validated_data)
        except AnswersRequired:
            # No answers came and the event asks required questions: a 400 naming them, as if
            # the answers had been sent empty (a refusal of the input, not counted).
            serializer = RegistrationSerializer(
                data={**request.data, "answers": {}}, context={"event_id": event_id}
            )
            serializer.is_valid(raise_exception=True)
            # A required question came and went meanwhile: a conflict, answered as such.
            self.registration_outcome = RegistrationOutcome.ANSWERS_REQUIRED
            raise
        except DomainError as error:
            self.registration_outcome = RegistrationOutcome.of_refusal(error)
            raise
        self.registration_outcome = registration.outcome
        return Response(
            NewPlaceSerializer(registration).data, status=STATUS_OF_PLACE[registration.outcome]
        )

    @attendees_schema
    @action(detail=True, methods=["get"], serializer_class=AttendeeSerializer)
    def attendees(self, request, pk=None):
        """The event's attendees in registration order, paginated like the event list."""
        event = self.get_object()
        # The event's seat counter is the number of its attendees: no COUNT(*) over them.
        page = self.paginate_queryset(
            Counted(event_attendees(event_id=event.pk), count=lambda: event.seats_taken)
        )
        response = self.get_paginated_response(AttendeeSerializer(page, many=True).data)
        return cacheable(response, stamp=Stamp(event_ids=(event.pk,)))

    @remove_attendee_schema
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"attendees/(?P<attendee_id>[0-9]+)",
        serializer_class=AttendeeSerializer,
    )
    def remove_attendee(self, request, pk=None, attendee_id=None):
        """Remove an attendee, seated or waiting; a freed seat goes to the waiting list."""
        remove_attendee(event_id=self.get_object().pk, attendee_id=int(attendee_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @waitlist_schema
    @action(detail=True, methods=["get"], serializer_class=AttendeeSerializer)
    def waitlist(self, request, pk=None):
        """The event's waiting list, the next to get a seat first, paginated like attendees."""
        event = self.get_object()
        # Counted by the event's waiting-list counter: no COUNT(*) either.
        page = self.paginate_queryset(
            Counted(waiting_list(event_id=event.pk), count=lambda: event.waitlist_taken)
        )
        response = self.get_paginated_response(AttendeeSerializer(page, many=True).data)
        return cacheable(response, stamp=Stamp(event_ids=(event.pk,)))

    # How the register action ended, once the rules have decided (core.rules).
    registration_outcome: RegistrationOutcome | None = None

    def dispatch(self, request, *args, **kwargs):
        # Once per request, here: an idempotent action finalizes its answer twice.
        response = super().dispatch(request, *args, **kwargs)
        if getattr(self, "action", None) == "register":
            self._count_registration(response)
        return response

    def _count_registration(self, response) -> None:
        """Counts the registration's outcome in the metrics; a replayed answer, already counted
        when first given, and a request refused for its input are not."""
        if response.has_header(REPLAYED_HEADER):
            return
        if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
            count_registration(THROTTLED)
        elif self.registration_outcome is not None:
            count_registration(self.registration_outcome.value)

    @staticmethod
    def _ensure_event_exists(pk) -> None:
        if not Event.objects.filter(pk=int(pk)).exists():
            raise NotFound(EventNotFound.message)


@registration_viewset_schema
class RegistrationViewSet(viewsets.GenericViewSet):
    """A registration read (GET) or cancelled (DELETE) by its token, the only credential needed.

    The token travels in the path: the answers are never cached (`Cache-Control: no-store`),
    and no log line this API writes names it.
    """

    serializer_class = PlaceSerializer
    # The token is the credential: a bearer token sent along is neither needed nor read.
    authentication_classes = []
    permission_classes = [AllowAny]
    lookup_field = "token"
    lookup_value_regex = r"[A-Za-z0-9_-]+"

    @property
    def throttle_scope(self) -> str | None:
        """Cancelling (and erasing) spends a budget per address (api/throttling.py); reading
        spends none."""
        return "cancel" if self.action == "destroy" else None

    def retrieve(self, request, token=None):
        place = place_by_token(token=token)
        if place is None:
            raise RegistrationNotFound
        return Response(self.get_serializer(place).data)

    def destroy(self, request, token=None):
        """Cancel; with `?erase=true`, cancel and erase the personal data at once."""
        erase = ErasureSerializer(data=request.query_params)
        erase.is_valid(raise_exception=True)
        if erase.validated_data["erase"]:
            erase_registration_by_token(token=token)
        else:
            cancel_registration_by_token(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @registration_data_schema
    @action(detail=True, methods=["get"], serializer_class=RegistrationDataSerializer)
    def data(self, request, token=None):
        """Everything stored about the registration, as JSON to take away."""
        data = registration_data(token=token)
        if data is None:
            raise RegistrationNotFound
        return Response(RegistrationDataSerializer(data).data)

    @ticket_svg_schema
    @action(detail=True, methods=["get"], url_path=r"ticket\.svg", url_name="ticket-svg")
    def ticket_svg(self, request, token=None):
        """The seat's ticket as a QR code, in SVG."""
        return HttpResponse(ticket_svg(self._ticket(token)), content_type="image/svg+xml")

    @ticket_png_schema
    @action(detail=True, methods=["get"], url_path=r"ticket\.png", url_name="ticket-png")
    def ticket_png(self, request, token=None):
        """The seat's ticket as a QR code, in PNG."""
        return HttpResponse(ticket_png(self._ticket(token)), content_type="image/png")

    @staticmethod
    def _ticket(token: str) -> str:
        place = place_by_token(token=token)
        if place is None:
            raise RegistrationNotFound
        ticket = ticket_of(place.attendee)
        if ticket is None:
            raise NoTicket
        return ticket

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response
