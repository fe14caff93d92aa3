"""iCalendar feeds (RFC 5545): the upcoming events, the event list's filters applied, and one
event. Answered as `text/calendar` whatever the `Accept` header asks; errors are JSON."""

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.functional import cached_property
from rest_framework import viewsets
from rest_framework.permissions import AllowAny

from api.caching import cacheable
from api.events.filters import EventFilter, ListFilterBackend
from api.events.lookup import EventLookupMixin
from api.feeds.schema import event_feed_schema, feed_schema
from core import calendar
from core.models import Event
from core.selectors import in_start_order, next_start, upcoming_events
from core.versions import Stamp

# On a feed cut at CALENDAR_FEED_MAX_EVENTS: how many events it holds.
FEED_TRUNCATED_HEADER = "X-Feed-Truncated-At"


class CalendarFeedViewSet(EventLookupMixin, viewsets.GenericViewSet):
    """The upcoming events as one iCalendar feed (`feed`), and one event as iCalendar
    (`event_feed`)."""

    filter_backends = [ListFilterBackend]
    filterset_class = EventFilter
    permission_classes = [AllowAny]

    @property
    def throttle_scope(self) -> str | None:
        # A feed computed costs a second of CPU per 20,000 events; one from the cache, nothing.
        return "feed" if self.action == "feed" else None

    def get_queryset(self):
        if self.action == "feed":
            return upcoming_events(now=self.now)
        return Event.objects.all()

    @cached_property
    def now(self):
        """One clock reading per request: the feed's filter, its stamp and its expiry agree."""
        return timezone.now()

    def perform_content_negotiation(self, request, force=False):
        # A calendar client asking for text/calendar gets it: the answer is iCalendar whatever
        # the Accept header says, and an error JSON.
        return super().perform_content_negotiation(
            request, force=force or self.action in ("feed", "event_feed")
        )

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
        # Kept like the list (api/caching.py): what the feed shows of any upcoming event moves
        # the catalog or that event's version; it expires when the soonest event starts.
        stamp = Stamp(event_ids=(), catalog=True, starting_after=self.now)
        return cacheable(response, stamp=stamp, until=lambda: next_start(now=self.now))

    @event_feed_schema
    def event_feed(self, request, pk=None):
        """The event as iCalendar, cancelled or not."""
        event = self.get_object()
        return HttpResponse(b"".join(calendar.feed([event])), content_type=calendar.CONTENT_TYPE)
