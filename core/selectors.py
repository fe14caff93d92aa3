"""Named reads: the querysets the API and the admin share."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Min, Q, QuerySet, Value
from django.db.models.functions import Lower

from core.exceptions import DomainError
from core.models import (
    Attendee,
    AttendeeStatus,
    CheckIn,
    CheckInConflict,
    Event,
    EventStatus,
    MessageKind,
    OutgoingMessage,
    Question,
    WebhookDelivery,
    WebhookEndpoint,
)
from core.rules import DECISION_FIELDS, RegistrationOutcome, decide_registration
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


def pending_requests(*, event_id: int) -> QuerySet[Attendee]:
    """An event's requests awaiting approval, oldest first."""
    return Attendee.objects.filter(event_id=event_id, status=AttendeeStatus.PENDING).order_by("id")


@dataclass(frozen=True)
class Place:
    """A registration as its holder sees it: the row, and its place on the waiting list."""

    attendee: Attendee
    # 1 for the next to get a seat; None holding a seat.
    position: int | None


def place_by_token(*, token: str) -> Place | None:
    """The registration (a seat or a waiting place) that `token` was issued for, if it stands."""
    attendee = Attendee.objects.select_related("event").filter(token_hash=hash_token(token)).first()
    if attendee is None:
        return None
    return Place(attendee=attendee, position=waiting_position(attendee=attendee))


# The status each email's change left a registration in: its history, as the outbox recorded
# it (an approval's status is read from whether it seated).
STATUS_AFTER = {
    MessageKind.REGISTERED: AttendeeStatus.REGISTERED,
    MessageKind.WAITLISTED: AttendeeStatus.WAITLISTED,
    MessageKind.PENDING: AttendeeStatus.PENDING,
    MessageKind.PROMOTED: AttendeeStatus.REGISTERED,
}


@dataclass(frozen=True)
class RegistrationData:
    """Everything stored about one registration, for its holder to take away."""

    place: Place
    questions: dict[str, str]
    messages: list[OutgoingMessage]

    @property
    def history(self) -> list[tuple[str, datetime]]:
        """The statuses the registration went through, with when, oldest first."""
        steps = []
        for message in self.messages:
            if message.kind == MessageKind.APPROVED:
                status = AttendeeStatus.REGISTERED if message.seated else AttendeeStatus.WAITLISTED
            else:
                status = STATUS_AFTER.get(message.kind)
            if status is not None:
                steps.append((status.value, message.created_at))
        return steps


def registration_data(*, token: str) -> RegistrationData | None:
    """What is stored about the registration `token` was issued for: the row and its event,
    the questions its answers answer (their labels now), and every email sent or queued about
    it, oldest first; None for a token that names nothing."""
    place = place_by_token(token=token)
    if place is None:
        return None
    attendee = place.attendee
    labels = dict(Question.objects.filter(event_id=attendee.event_id).values_list("pk", "label"))
    messages = list(
        OutgoingMessage.objects.filter(event_id=attendee.event_id, attendee_id=attendee.pk)
        .only("kind", "seated", "status", "created_at", "sent_at")
        .order_by("id")
    )
    return RegistrationData(
        place=place,
        questions={str(pk): label for pk, label in labels.items()},
        messages=messages,
    )


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
    the insert would meet (a seat free) checked here, as this writes nothing. Staff answer no
    questions: the registration is taken as answered.
    """
    event = Event.objects.only(*DECISION_FIELDS).filter(pk=event_id).first()

    def registered() -> bool:
        return is_registered(event_id=event_id, email=email)

    outcome = decide_registration(
        event,
        now=now,
        waitlist=False,
        registered=registered,
        seats_before=registering_before,
        answered=True,
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


def checked_in_count(*, event_id: int) -> int:
    """How many of the event's registrations have been admitted at the door."""
    return CheckIn.objects.filter(event_id=event_id).count()


def checkin_conflicts(*, event_id: int) -> QuerySet[CheckInConflict]:
    """The event's double admissions, oldest recorded first, with their devices."""
    return (
        CheckInConflict.objects.filter(event_id=event_id)
        .select_related("first_device", "again_device")
        .order_by("id")
    )


def arrivals(*, event_id: int, bucket: timedelta) -> list[tuple[datetime, int]]:
    """Check-ins per `bucket` of time (aligned on the Unix epoch, in UTC), the earliest first;
    buckets between the first and the last arrival are listed with 0."""
    times = CheckIn.objects.filter(event_id=event_id).values_list("checked_in_at", flat=True)
    return _per_bucket(times, bucket)


def registrations_over_time(*, event_id: int, bucket: timedelta) -> list[tuple[datetime, int]]:
    """The event's standing registrations (seats and waiting places) per `bucket` of the time
    they were made, as arrivals counts check-ins."""
    times = Attendee.objects.filter(event_id=event_id).values_list("registered_at", flat=True)
    return _per_bucket(times, bucket)


def _per_bucket(times: QuerySet, bucket: timedelta) -> list[tuple[datetime, int]]:
    seconds = int(bucket.total_seconds())
    counts: dict[int, int] = {}
    for when in times.iterator(chunk_size=2000):
        start = int(when.timestamp()) // seconds * seconds
        counts[start] = counts.get(start, 0) + 1
    if not counts:
        return []
    return [
        (datetime.fromtimestamp(start, tz=UTC), counts.get(start, 0))
        for start in range(min(counts), max(counts) + seconds, seconds)
    ]


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
