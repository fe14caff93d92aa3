"""Named reads: the querysets the API and the admin share."""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Min, QuerySet, Value
from django.db.models.functions import Lower

from core.exceptions import (
    AlreadyRegistered,
    DomainError,
    EventFull,
    EventNotFound,
    RegistrationClosed,
)
from core.models import Attendee, Event

# Users in this group may add events; core.services.create_organiser puts people in it.
ORGANISERS_GROUP = "organisers"


def is_organiser(user: AbstractBaseUser) -> bool:
    """Whether `user` organises events: staff, the `core.add_event` permission, or the group."""
    return user.is_active and (
        user.is_staff
        or user.has_perm("core.add_event")
        or user.groups.filter(name=ORGANISERS_GROUP).exists()
    )


def events_owned_by(*, owner: AbstractBaseUser) -> QuerySet[Event]:
    """The events `owner` created, past ones too, soonest start first, ties broken by id."""
    return Event.objects.filter(owner=owner).order_by("start_time", "id")


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


def registration_refusal(
    *, event_id: int, email: str, now: datetime, registering_before: int = 0
) -> DomainError | None:
    """Why core.services.register_attendee would refuse `email` at the event now, or None.

    `registering_before` counts the seats other registrations of the same submission take
    first. A read, without locks: a seat may still go before the registration is made, which
    then refuses on its own. The reasons rank as the service ranks them: closed, then already
    registered, then full.
    """
    event = (
        Event.objects.only("start_time", "max_capacity", "seats_taken").filter(pk=event_id).first()
    )
    if event is None:
        return EventNotFound()
    if event.start_time <= now:
        return RegistrationClosed()
    if is_registered(event_id=event_id, email=email):
        return AlreadyRegistered()
    if event.seats_taken + registering_before >= event.max_capacity:
        return EventFull()
    return None
