"""Named reads: the querysets the API and the admin share."""

from datetime import datetime

from django.db.models import Min, QuerySet, Value
from django.db.models.functions import Lower

from core.models import Attendee, Event


def upcoming_events(*, now: datetime) -> QuerySet[Event]:
    """Events that start after `now`, soonest first, ties broken by id."""
    return Event.objects.filter(start_time__gt=now).order_by("start_time", "id")


def event_attendees(*, event_id: int) -> QuerySet[Attendee]:
    """An event's attendees in registration order."""
    return Attendee.objects.filter(event_id=event_id).order_by("id")


def next_start(*, now: datetime) -> datetime | None:
    """When the soonest upcoming event starts (and the upcoming list next changes by itself)."""
    return upcoming_events(now=now).aggregate(Min("start_time"))["start_time__min"]


def is_registered(*, event_id: int, email: str) -> bool:
    """Whether `email` (compared case-insensitively) already holds a seat at the event."""
    return (
        Attendee.objects.alias(email_lower=Lower("email"))
        .filter(event_id=event_id, email_lower=Lower(Value(email.strip())))
        .exists()
    )
