"""The events API: thin viewsets that shape requests and hand every rule to core.services."""

from django.http import Http404
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.functional import cached_property
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from api.caching import cacheable, cached_count
from api.filters import EventFilter, ListFilterBackend
from api.pagination import Counted
from api.schema import event_viewset_schema
from api.serializers import AttendeeSerializer, EventSerializer, RegistrationSerializer
from core.exceptions import EventNotFound
from core.models import Event
from core.selectors import attendee_count, event_attendees, next_start, upcoming_events
from core.services import create_event, register_attendee
from core.versions import Stamp

# The request budget each action spends (api/throttling.py); reads spend none.
THROTTLE_SCOPES = {"create": "create", "register": "register"}


@event_viewset_schema
class EventViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Create events, list upcoming ones, read one, register for one, list its attendees."""

    serializer_class = EventSerializer
    filter_backends = [ListFilterBackend]
    filterset_class = EventFilter
    lookup_value_regex = r"[0-9]+"

    @property
    def throttle_scope(self) -> str | None:
        return THROTTLE_SCOPES.get(self.action)

    @cached_property
    def now(self):
        """One clock reading per request, so the list's filter and its cache expiry agree."""
        return timezone.now()

    def get_queryset(self):
        if self.action == "list":
            return upcoming_events(now=self.now)
        return Event.objects.all()

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            # In the words register and attendees use for an unknown event, not Django's.
            raise EventNotFound from None

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

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if len(self.renderer_classes) > 1:
            # With the browsable API on, a browser and a JSON client are answered differently
            # at one URL; the response cache keys by URL alone, so it keeps JSON answers only.
            patch_vary_headers(response, ["Accept"])
            renderer = getattr(response, "accepted_renderer", None)
            if renderer is not None and renderer.format != "json":
                response.cache_stamp = None
        return response

    def perform_create(self, serializer):
        serializer.instance = create_event(**serializer.validated_data)

    @action(detail=True, methods=["post"], serializer_class=RegistrationSerializer)
    def register(self, request, pk=None):
        """Register an attendee; 409 with a code when the event is full, closed or a repeat."""
        serializer = RegistrationSerializer(data=request.data)
        if not serializer.is_valid():
            # An unknown event is the first thing wrong with the request, whatever its body.
            self._ensure_event_exists(pk)
            serializer.is_valid(raise_exception=True)
        attendee = register_attendee(event_id=int(pk), **serializer.validated_data)
        return Response(AttendeeSerializer(attendee).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get"], serializer_class=AttendeeSerializer)
    def attendees(self, request, pk=None):
        """The event's attendees in registration order, paginated like the event list."""
        count = attendee_count(event_id=int(pk))
        if count is None:
            raise NotFound(EventNotFound.message)
        # The event's seat counter is the number of its attendees: no COUNT(*) over them.
        page = self.paginate_queryset(
            Counted(event_attendees(event_id=int(pk)), count=lambda: count)
        )
        response = self.get_paginated_response(AttendeeSerializer(page, many=True).data)
        return cacheable(response, stamp=Stamp(event_ids=(int(pk),)))

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
