"""Named reads: the querysets the API and the admin share."""

from datetime import datetime

from django.db.models import QuerySet

from core.models import Attendee, Event


def upcoming_events(*, now: datetime) -> QuerySet[Event]:
    """Events that start after `now`, soonest first, ties broken by id."""
    return Event.objects.filter(start_time__gt=now).order_by("start_time", "id")


def event_attendees(*, event_id: int) -> QuerySet[Attendee]:
    """An event's attendees in registration order."""
    return Attendee.objects.filter(event_id=event_id).order_by("id")
