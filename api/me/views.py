"""The caller's own things: for now, the events they own."""

from rest_framework import mixins, viewsets

from api.events.serializers import EventSerializer
from api.me.schema import own_event_viewset_schema
from api.permissions import IsOrganiser
from core.selectors import events_owned_by


@own_event_viewset_schema
class OwnEventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's own events, past ones too, paginated like the event list."""

    serializer_class = EventSerializer
    permission_classes = [IsOrganiser]

    def get_queryset(self):
        return events_owned_by(owner=self.request.user)
