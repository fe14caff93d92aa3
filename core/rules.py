"""The registration rule as one pure decision, and the one name of its outcome.

`decide_registration` reads an event's state and answers what a registration gets. Every path
that registers follows it: core.services.register_attendee (on SQLite, in Python under the
event's lock), its SQL on PostgreSQL (core/sql/registration.py, the same steps in the same
order, proven equal by core/tests/test_registration_outcomes.py), and the admin's pre-check.
`RegistrationOutcome` names the result; the API's status, the metric's label and the email's
kind are read from it.
"""

import enum
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from core.exceptions import (
    AlreadyRegistered,
    AnswersRequired,
    DomainError,
    EventCancelled,
    EventFull,
    EventNotFound,
    RegistrationClosed,
)
from core.models import AttendeeStatus, MessageKind


class RegistrationOutcome(enum.Enum):
    """How a registration ends; the value is its stable name (the error's code for a refusal)."""

    SEAT = "registered"
    WAITING_PLACE = "waitlisted"
    # Taken, awaiting the owner's approval: no seat and no waiting place yet.
    PENDING = "pending"
    EVENT_NOT_FOUND = EventNotFound.code
    EVENT_CANCELLED = EventCancelled.code
    REGISTRATION_CLOSED = RegistrationClosed.code
    ALREADY_REGISTERED = AlreadyRegistered.code
    EVENT_FULL = EventFull.code
    ANSWERS_REQUIRED = AnswersRequired.code

    @property
    def takes_place(self) -> bool:
        """Whether a row is written: a seat, a waiting place or a pending request."""
        return self in _STATUS

    @property
    def status(self) -> AttendeeStatus | None:
        """The status of the row written."""
        return _STATUS.get(self)

    @property
    def message_kind(self) -> MessageKind | None:
        """The email the registrant is sent."""
        return _MESSAGE_KIND.get(self)

    @property
    def error(self) -> type[DomainError] | None:
        """The domain error a refusal raises."""
        return _ERROR.get(self)

    @classmethod
    def of_refusal(cls, error: DomainError) -> "RegistrationOutcome | None":
        """The refusal `error` (raised by a registration) stands for; None for another error."""
        return _REFUSAL.get(type(error))


_STATUS = {
    RegistrationOutcome.SEAT: AttendeeStatus.REGISTERED,
    RegistrationOutcome.WAITING_PLACE: AttendeeStatus.WAITLISTED,
    RegistrationOutcome.PENDING: AttendeeStatus.PENDING,
}
_MESSAGE_KIND = {
    RegistrationOutcome.SEAT: MessageKind.REGISTERED,
    RegistrationOutcome.WAITING_PLACE: MessageKind.WAITLISTED,
    RegistrationOutcome.PENDING: MessageKind.PENDING,
}
_ERROR = {
    RegistrationOutcome.EVENT_NOT_FOUND: EventNotFound,
    RegistrationOutcome.EVENT_CANCELLED: EventCancelled,
    RegistrationOutcome.REGISTRATION_CLOSED: RegistrationClosed,
    RegistrationOutcome.ALREADY_REGISTERED: AlreadyRegistered,
    RegistrationOutcome.EVENT_FULL: EventFull,
    RegistrationOutcome.ANSWERS_REQUIRED: AnswersRequired,
}
_REFUSAL = {error: outcome for outcome, error in _ERROR.items()}


# What the decisions read of an event (EventState), under its lock.
DECISION_FIELDS = (
    "start_time",
    "max_capacity",
    "seats_taken",
    "waitlist_taken",
    "status",
    "requires_approval",
    "requires_answers",
)


class EventState(Protocol):
    """What the decision reads of an event (an Event row has it all)."""

    start_time: datetime
    max_capacity: int
    seats_taken: int
    waitlist_taken: int
    requires_approval: bool
    requires_answers: bool

    @property
    def cancelled(self) -> bool: ...


def decide_registration(
    event: EventState | None,
    *,
    now: datetime,
    waitlist: bool,
    registered: Callable[[], bool],
    seats_before: int = 0,
    answered: bool = True,
) -> RegistrationOutcome:
    """What a registration for `event` (None: no such event) gets at `now`.

    In this order: an unknown event; one that asks required questions when no answers came
    (`answered` False: answers sent were checked against the questions at the edge); a
    cancelled one, one that has started; then, when no seat
    is free (or anyone waits: the waiting list's seats are its own), a repeat
    (`registered()`, asked only then) before the event being full or, with `waitlist`, a
    waiting place; else a seat. An event that requires approval turns what would be a seat or
    a waiting place into a pending request, which holds neither. `seats_before` counts seats
    taken first by other registrations of the same submission (the admin's pre-check).

    With a seat free, a repeat is refused by the insert itself: the unique constraint on
    (event, lower(email)) answers ALREADY_REGISTERED without a read.
    """
    if event is None:
        return RegistrationOutcome.EVENT_NOT_FOUND
    if event.requires_answers and not answered:
        return RegistrationOutcome.ANSWERS_REQUIRED
    if event.cancelled:
        return RegistrationOutcome.EVENT_CANCELLED
    if event.start_time <= now:
        return RegistrationOutcome.REGISTRATION_CLOSED
    if event.seats_taken + seats_before >= event.max_capacity or event.waitlist_taken:
        if registered():
            return RegistrationOutcome.ALREADY_REGISTERED
        if not waitlist:
            return RegistrationOutcome.EVENT_FULL
        outcome = RegistrationOutcome.WAITING_PLACE
    else:
        outcome = RegistrationOutcome.SEAT
    return RegistrationOutcome.PENDING if event.requires_approval else outcome


def decide_approval(event: EventState, *, now: datetime) -> RegistrationOutcome:
    """What approving a pending request for `event` gives it at `now`: a seat if one is free
    and nobody waits, else a place on the waiting list (whatever the request's `waitlist`: the
    owner chose them); refused for a cancelled event or one that has started."""
    if event.cancelled:
        return RegistrationOutcome.EVENT_CANCELLED
    if event.start_time <= now:
        return RegistrationOutcome.REGISTRATION_CLOSED
    if event.seats_taken >= event.max_capacity or event.waitlist_taken:
        return RegistrationOutcome.WAITING_PLACE
    return RegistrationOutcome.SEAT
