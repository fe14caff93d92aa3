"""The events API: thin views that shape requests and hand every rule to core.services."""

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.functional import cached_property
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed, NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api.authentication import INVALID_CREDENTIALS_MESSAGE, BearerTokenAuthentication
from api.caching import cacheable, cached_count
from api.filters import EventFilter, ListFilterBackend
from api.idempotency import REPLAYED_HEADER, idempotent
from api.pagination import Counted
from api.permissions import IsEventOwnerOrStaff, IsOrganiser, OpenAccess
from api.schema import (
    event_feed_schema,
    event_viewset_schema,
    feed_schema,
    own_event_viewset_schema,
    registration_viewset_schema,
    token_view_schema,
)
from api.serializers import (
    AttendeeSerializer,
    CredentialsSerializer,
    EventSerializer,
    NewPlaceSerializer,
    PlaceSerializer,
    RegistrationSerializer,
    TokenSerializer,
)
from api.tokens import issue_token
from core import calendar
from core.exceptions import EventNotFound, RegistrationNotFound
from core.models import Event
from core.selectors import (
    event_attendees,
    events_owned_by,
    in_start_order,
    next_start,
    place_by_token,
    upcoming_events,
    waiting_list,
)
from core.services import (
    cancel_event,
    cancel_registration_by_token,
    create_event,
    register_attendee,
    remove_attendee,
    update_event,
)
from core.versions import Stamp
from event_management_system.ops.metrics import REGISTRATION_OUTCOMES, count_registration

# How a registration request ended, read from its answer: the status for the outcomes that
# have one of their own, the error's code for the refusals (409).
OUTCOME_BY_STATUS = {
    status.HTTP_201_CREATED: "registered",
    status.HTTP_202_ACCEPTED: "waitlisted",
    status.HTTP_429_TOO_MANY_REQUESTS: "throttled",
}

# On a feed cut at CALENDAR_FEED_MAX_EVENTS: how many events it holds.
FEED_TRUNCATED_HEADER = "X-Feed-Truncated-At"


@event_viewset_schema
class EventViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Create events, list upcoming ones, read one, change or cancel one, register for one,
    list its attendees and its waiting list, remove an attendee; the upcoming events and one
    event as iCalendar."""

    serializer_class = EventSerializer
    filter_backends = [ListFilterBackend]
    filterset_class = EventFilter
    lookup_value_regex = r"[0-9]+"
    # Who may call each action (api/permissions.py); the others are open to anyone.
    permission_classes = [AllowAny]
    permission_classes_by_action = {
        "create": [OpenAccess | IsOrganiser],
        "partial_update": [IsEventOwnerOrStaff],
        "cancel": [IsEventOwnerOrStaff],
        "remove_attendee": [IsEventOwnerOrStaff],
        "attendees": [OpenAccess | IsEventOwnerOrStaff],
        "waitlist": [OpenAccess | IsEventOwnerOrStaff],
    }
    # The request budget each write spends (api/throttling.py); reads spend none.
    throttle_scopes = {"create": "create", "register": "register"}

    @property
    def throttle_scope(self) -> str | None:
        return self.throttle_scopes.get(self.action)

    def get_permissions(self):
        classes = self.permission_classes_by_action.get(self.action, self.permission_classes)
        return [permission() for permission in classes]

    @cached_property
    def now(self):
        """One clock reading per request, so the list's filter and its cache expiry agree."""
        return timezone.now()

    def get_queryset(self):
        if self.action in ("list", "feed"):
            return upcoming_events(now=self.now)
        if self.action == "attendees":
            # What the attendee pages need of the event: who owns it and its seat counter.
            return Event.objects.only("owner_id", "seats_taken")
        if self.action == "waitlist":
            return Event.objects.only("owner_id", "waitlist_taken")
        if self.action in ("cancel", "remove_attendee"):
            # Who may act on it; the services read the rest under the event's lock.
            return Event.objects.only("owner_id")
        return Event.objects.all()

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            # In the words register and attendees use for an unknown event, not Django's.
            raise EventNotFound from None

    def perform_content_negotiation(self, request, force=False):
        # A calendar client asking for text/calendar gets it: the answer is iCalendar whatever
        # the Accept header says, and an error JSON.
        return super().perform_content_negotiation(
            request, force=force or self.action in ("feed", "event_feed")
        )

    def list(self, request, *args, **kwargs):
        """Upcoming events, soonest first; the answer changes when the next event starts."""
        queryset = self.filter_queryset(self.get_queryset())
        count = Counted(
            queryset,
            count=lambda: cached_count(self._filters_asked(), queryset, until=self._next_start),
        )
        page = self.paginate_queryset(count)
        response = self.get_paginated_response(self.get_serializer(page, many=True).data)
        stamp = Stamp(event_ids=tuple(event.pk for event in page), catalog=True)
        return cacheable(response, stamp=stamp, until=self._next_start)

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        return cacheable(response, stamp=Stamp(event_ids=(int(kwargs["pk"]),)))

    @idempotent
    def create(self, request, *args, **kwargs):
        """Create an event; a retry sent with the same Idempotency-Key gets the first answer."""
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        user = self.request.user
        owner = user if user is not None and user.is_authenticated else None
        serializer.instance = create_event(owner=owner, **serializer.validated_data)

    def partial_update(self, request, *args, **kwargs):
        """Change the fields sent; the rules are update_event's, under the event's lock."""
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        event = update_event(event_id=serializer.instance.pk, **serializer.validated_data)
        return Response(self.get_serializer(event).data)

    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel the event: 200 with it, `status` `cancelled`; its registrations stay."""
        event = cancel_event(event_id=self.get_object().pk)
        return Response(self.get_serializer(event).data)

    @idempotent
    @action(detail=True, methods=["post"], serializer_class=RegistrationSerializer)
    def register(self, request, pk=None):
        """Register an attendee: 201 with a seat, 202 with a waiting place (`"waitlist": true`
        and the event full); 409 with a code when the event is full, closed, cancelled or a
        repeat."""
        serializer = RegistrationSerializer(data=request.data)
        if not serializer.is_valid():
            # An unknown event is the first thing wrong with the request, whatever its body.
            self._ensure_event_exists(pk)
            serializer.is_valid(raise_exception=True)
        registration = register_attendee(event_id=int(pk), **serializer.validated_data)
        answer = status.HTTP_202_ACCEPTED if registration.waitlisted else status.HTTP_201_CREATED
        return Response(NewPlaceSerializer(registration).data, status=answer)

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

    def dispatch(self, request, *args, **kwargs):
        # Once per request, here: an idempotent action finalizes its answer twice.
        response = super().dispatch(request, *args, **kwargs)
        if getattr(self, "action", None) == "register":
            self._count_registration(response)
        return response

    @staticmethod
    def _count_registration(response) -> None:
        """Counts the registration's outcome in the metrics; a replayed answer, already counted
        when first given, and a request refused for its input or an unknown event are not."""
        if response.has_header(REPLAYED_HEADER):
            return
        outcome = OUTCOME_BY_STATUS.get(response.status_code)
        if outcome is None and response.status_code == status.HTTP_409_CONFLICT:
            outcome = (getattr(response, "data", None) or {}).get("code")
        if outcome in REGISTRATION_OUTCOMES:
            count_registration(outcome)

    @feed_schema
    def feed(self, request, *args, **kwargs):
        """The upcoming events as one iCalendar feed, the list's filters applied; not paginated
        but streamed, a thousand events per query, up to CALENDAR_FEED_MAX_EVENTS of them."""
        queryset = self.filter_queryset(self.get_queryset())
        limit = settings.CALENDAR_FEED_MAX_EVENTS
        events = in_start_order(queryset, limit=limit)
        response = StreamingHttpResponse(calendar.feed(events), content_type=calendar.CONTENT_TYPE)
        # Said before the stream starts: one more query, which reads no row but the one past
        # the limit.
        if queryset.order_by("start_time", "id")[limit : limit + 1].exists():
            response[FEED_TRUNCATED_HEADER] = str(limit)
        return response

    @event_feed_schema
    def event_feed(self, request, pk=None):
        """The event as iCalendar, cancelled or not."""
        event = self.get_object()
        return HttpResponse(b"".join(calendar.feed([event])), content_type=calendar.CONTENT_TYPE)

    def _filters_asked(self) -> tuple:
        """The list's filter parameters as given: what its row count depends on."""
        params = self.request.query_params
        return tuple(
            (name, tuple(params.getlist(name)))
            for name in sorted(EventFilter.base_filters)
            if name in params
        )

    def _next_start(self):
        return next_start(now=self.now)

    @staticmethod
    def _ensure_event_exists(pk) -> None:
        if not Event.objects.filter(pk=int(pk)).exists():
            raise NotFound(EventNotFound.message)


@own_event_viewset_schema
class OwnEventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's own events, past ones too, paginated like the event list."""

    serializer_class = EventSerializer
    permission_classes = [IsOrganiser]

    def get_queryset(self):
        return events_owned_by(owner=self.request.user)


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

    def retrieve(self, request, token=None):
        place = place_by_token(token=token)
        if place is None:
            raise RegistrationNotFound
        return Response(self.get_serializer(place).data)

    def destroy(self, request, token=None):
        cancel_registration_by_token(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response


@token_view_schema
class TokenView(APIView):
    """Exchange a username and password for a bearer token (POST); revoke it (DELETE)."""

    throttle_scope = "token"

    def signing_in(self) -> bool:
        # The schema generator asks for authenticators before it sets a request.
        return getattr(self.request, "method", None) == "POST"

    def get_authenticators(self):
        # A sign-in is its username and password: a stale token sent along, as by a client
        # that adds one to every request, must not refuse it.
        return [] if self.signing_in() else super().get_authenticators()

    def get_permissions(self):
        return [AllowAny()] if self.signing_in() else [IsAuthenticated()]

    def get_authenticate_header(self, request):
        # Also for POST, which reads no token: a refused sign-in is a 401 that says how.
        return BearerTokenAuthentication().authenticate_header(request)

    def post(self, request):
        credentials = CredentialsSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        # Django hashes the password given even for an unknown username, so a wrong name
        # costs what a wrong password does.
        user = authenticate(request, **credentials.validated_data)
        if user is None:
            raise AuthenticationFailed(INVALID_CREDENTIALS_MESSAGE, code="invalid_credentials")
        issued = issue_token(user=user)
        return Response(TokenSerializer(issued).data, status=status.HTTP_201_CREATED)

    def delete(self, request):
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
