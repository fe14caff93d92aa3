"""Named reads: the querysets the API and the admin share."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Min, Q, QuerySet, Value
from django.db.models.functions import Lower

from core.exceptions import DomainError
from core.models import (
    Attendee,
    AttendeeStatus,
    Event,
    EventStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from core.rules import RegistrationOutcome, decide_registration
from core.tokens import hash_token

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
    """Scheduled events that start after `now`, soonest first, ties broken by id."""
    return Event.objects.filter(start_time__gt=now, status=EventStatus.SCHEDULED).order_by(
        "start_time", "id"
    )


def event_attendees(*, event_id: int) -> QuerySet[Attendee]:
    """An event's attendees holding a seat, in registration order."""
    return Attendee.objects.filter(event_id=event_id, status=AttendeeStatus.REGISTERED).order_by(
        "id"
    )


def waiting_list(*, event_id: int) -> QuerySet[Attendee]:
    """An event's waiting list, first come first served: the first entry is the next to get a
    seat."""
    return Attendee.objects.filter(event_id=event_id, status=AttendeeStatus.WAITLISTED).order_by(
        "id"
    )


@dataclass(frozen=True)
class Place:
    """A registration as its holder sees it: the row, and its place on the waiting list."""

    attendee: Attendee
    # 1 for the next to get a seat; None holding a seat.
    position: int | None


def place_by_token(*, token: str) -> Place | None:
    """The registration (a seat or a waiting place) that `token` was issued for, if it stands."""
    attendee = Attendee.objects.filter(token_hash=hash_token(token)).first()
    if attendee is None:
        return None
    return Place(attendee=attendee, position=waiting_position(attendee=attendee))


def waiting_position(*, attendee: Attendee) -> int | None:
    """`attendee`'s place on its event's waiting list, 1 for the next; None holding a seat."""
    if attendee.status != AttendeeStatus.WAITLISTED:
        return None
    return waiting_list(event_id=attendee.event_id).filter(id__lte=attendee.pk).count()


def next_start(*, now: datetime) -> datetime | None:
    """When the soonest upcoming event starts (and the upcoming list next changes by itself)."""
    return upcoming_events(now=now).aggregate(Min("start_time"))["start_time__min"]


def is_registered(*, event_id: int, email: str) -> bool:
    """Whether `email` (compared case-insensitively) already holds a place at the event: a seat
    or a place on its waiting list."""
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
    then refuses on its own. The decision is core.rules.decide_registration's, with the repeat
    the insert would meet (a seat free) checked here, as this writes nothing.
    """
    event = (
        Event.objects.only("start_time", "max_capacity", "seats_taken", "waitlist_taken", "status")
        .filter(pk=event_id)
        .first()
    )

    def registered() -> bool:
        return is_registered(event_id=event_id, email=email)

    outcome = decide_registration(
        event, now=now, waitlist=False, registered=registered, seats_before=registering_before
    )
    if outcome.takes_place and registered():
        outcome = RegistrationOutcome.ALREADY_REGISTERED
    return outcome.error() if outcome.error else None


def in_start_order(
    queryset: QuerySet[Event], *, limit: int | None = None, chunk_size: int = 1000
) -> Iterator[Event]:
    """The events of `queryset` (the first `limit` of them, if given), soonest first, read
    `chunk_size` rows per query from the (start_time, id) index: a catalogue of any size without
    holding it all, and without a server-side cursor (which a transaction-pooling proxy would
    not keep)."""
    queryset = queryset.order_by("start_time", "id")
    left = limit
    last = None
    while left is None or left > 0:
        chunk = queryset
        if last is not None:
            chunk = chunk.filter(
                Q(start_time__gt=last.start_time) | Q(start_time=last.start_time, id__gt=last.pk)
            )
        size = chunk_size if left is None else min(chunk_size, left)
        rows = list(chunk[:size])
        yield from rows
        if len(rows) < size:
            return
        last = rows[-1]
        if left is not None:
            left -= len(rows)


def webhook_endpoints_visible_to(user) -> QuerySet:
    """The webhook endpoints `user` manages: their own, or every one for staff; oldest first."""
    endpoints = WebhookEndpoint.objects.order_by("id")
    return endpoints if user.is_staff else endpoints.filter(owner=user)


def endpoint_deliveries(*, endpoint_id: int) -> QuerySet:
    """An endpoint's deliveries, newest first, with their messages and attempts (three queries
    a page, whatever its length)."""
    return (
        WebhookDelivery.objects.filter(endpoint_id=endpoint_id)
        .select_related("message")
        .prefetch_related("attempt_log")
        .order_by("-id")
    )
