"""Events: create one, list the upcoming ones, read one, change or cancel one. The actions on an
event's registrations (api/registrations/) are composed in; every rule is core.services'."""

from django.utils import timezone
from django.utils.functional import cached_property
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from api.approvals.views import EventApprovalsMixin
from api.caching import cacheable, cached_count, catalog_version_kept, next_start_cache
from api.checkins.views import EventCheckInMixin
from api.events.filters import EventFilter, ListFilterBackend
from api.events.lookup import EventLookupMixin
from api.events.schema import event_viewset_schema
from api.events.serializers import EventSerializer
from api.idempotency import idempotent
from api.pagination import Counted
from api.permissions import IsEventDevice, IsEventOwnerOrStaff, IsOrganiser, OpenAccess
from api.registrations.views import EventRegistrationsMixin
from core.models import Event
from core.selectors import checked_in_count, upcoming_events
from core.services import cancel_event, create_event, update_event
from core.versions import Stamp


@event_viewset_schema
class EventViewSet(
    EventLookupMixin,
    EventRegistrationsMixin,
    EventApprovalsMixin,
    EventCheckInMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Create events, list upcoming ones, read one, change or cancel one, register for one,
    list its attendees and its waiting list, remove an attendee, decide on pending requests; its
    door (check-in)."""

    serializer_class = EventSerializer
    filter_backends = [ListFilterBackend]
    filterset_class = EventFilter
    # Who may call each action (api/permissions.py); the others are open to anyone.
    permission_classes = [AllowAny]
    permission_classes_by_action = {
        "create": [OpenAccess | IsOrganiser],
        "partial_update": [IsEventOwnerOrStaff],
        "cancel": [IsEventOwnerOrStaff],
        **EventRegistrationsMixin.permission_classes_by_action,
        **EventApprovalsMixin.permission_classes_by_action,
        **EventCheckInMixin.permission_classes_by_action,
    }
    # The request budget each write spends (api/throttling.py); reads spend none.
    throttle_scopes = {
        "create": "create",
        "partial_update": "organise",
        "cancel": "organise",
        **EventRegistrationsMixin.throttle_scopes,
        **EventApprovalsMixin.throttle_scopes,
    }

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
        if self.action == "list":
            return upcoming_events(now=self.now)
        # What the registrations' actions need of the event (api/registrations/views.py).
        fields = {
            **EventRegistrationsMixin.event_fields_by_action,
            **EventApprovalsMixin.event_fields_by_action,
            **EventCheckInMixin.event_fields_by_action,
        }.get(self.action)
        if fields is not None:
            return Event.objects.only(*fields)
        if self.action == "cancel":
            # Who may act on it; the service reads the rest under the event's lock.
            return Event.objects.only("owner_id")
        return Event.objects.all()

    def list(self, request, *args, **kwargs):
        """Upcoming events, soonest first; the answer changes when the next event starts."""
        queryset = self.filter_queryset(self.get_queryset())
        count = Counted(
            queryset,
            count=lambda: cached_count(
                self._filters_asked(), queryset, self._next_start, self.catalog_version
            ),
        )
        page = self.paginate_queryset(count)
        response = self.get_paginated_response(self.get_serializer(page, many=True).data)
        stamp = Stamp(event_ids=tuple(event.pk for event in page), catalog=True)
        return cacheable(response, stamp=stamp, until=self._next_start)

    def retrieve(self, request, *args, **kwargs):
        event = self.get_object()
        response = Response(self.get_serializer(event).data)
        if self._at_the_door(event):
            # Never kept by the cache, which keeps anonymous answers only (api/caching.py).
            response.data["checked_in_count"] = checked_in_count(event_id=event.pk)
        return cacheable(response, stamp=Stamp(event_ids=(int(kwargs["pk"]),)))

    def _at_the_door(self, event) -> bool:
        """Whether the caller may see the event's door: its owner, staff, its devices."""
        if self.request.auth is None:
            return False
        door = (IsEventOwnerOrStaff | IsEventDevice)()
        return door.has_permission(self.request, self) and door.has_object_permission(
            self.request, self, event
        )

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

    def _filters_asked(self) -> tuple:
        """The list's filter parameters as given: what its row count depends on."""
        params = self.request.query_params
        return tuple(
            (name, tuple(params.getlist(name)))
            for name in sorted(EventFilter.base_filters)
            if name in params
        )

    @cached_property
    def catalog_version(self) -> int | None:
        """The catalog's version, read once per request, before the count and next start that
        are kept at it."""
        return catalog_version_kept()

    def _next_start(self):
        return next_start_cache.get(self.now, self.catalog_version)
