"""Named reads: the querysets the API and the admin share."""

from datetime import datetime

from django.db.models import Min, QuerySet

from core.models import Attendee, Event


def upcoming_events(*, now: datetime) -> QuerySet[Event]:
    """Events that start after `now`, soonest first, ties broken by id."""
    return Event.objects.filter(start_time__gt=now).order_by("start_time", "id")


def event_attendees(*, event_id: int) -> QuerySet[Attendee]:
    """An event's attendees in registration order."""
    return Attendee.objects.filter(event_id=event_id).order_by("id")


def attendee_count(*, event_id: int) -> int | None:
    """How many attendees the event holds, read from its seat counter; None if no such event."""
    return Event.objects.filter(pk=event_id).values_list("seats_taken", flat=True).first()


def next_start(*, now: datetime) -> datetime | None:
    """When the soonest upcoming event starts (and the upcoming list next changes by itself)."""
    return upcoming_events(now=now).aggregate(Min("start_time"))["start_time__min"]
