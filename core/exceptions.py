"""Domain errors: what went wrong in the user's terms, with a stable machine code."""

from django.utils import timezone


class DomainError(Exception):
    """A business rule refused the operation; `code` is stable, `message` is for a person."""

    code = "domain_error"
    message = "The operation was refused."

    def __init__(self, message: str | None = None):
        self.message = message or self.message
        super().__init__(self.message)

    def details(self) -> dict:
        """What the refusal tells besides its code and message (none by default)."""
        return {}


class EventNotFound(DomainError):
    code = "not_found"
    message = "No event exists with this id."


class EventFull(DomainError):
    code = "event_full"
    message = "This event is full: every seat has been taken."


class AlreadyRegistered(DomainError):
    code = "already_registered"
    message = "This email address is already registered for this event."


class RegistrationClosed(DomainError):
    code = "registration_closed"
    message = "Registration is closed: this event has already started."


class EventStarted(DomainError):
    """The change would move the start of an event that has already begun."""

    code = "event_started"
    message = "This event has already started: its start time can no longer change."


class CapacityBelowAttendance(DomainError):
    """The new capacity would leave some registered attendees without a seat."""

    code = "capacity_below_attendance"
    message = "The capacity cannot be lower than the number of attendees already registered."


class EventCancelled(DomainError):
    """The event has been cancelled: it takes no registrations and no changes."""

    code = "event_cancelled"
    message = "This event has been cancelled."


class RegistrationNotFound(DomainError):
    """No registration answers to this token: unknown, or cancelled already."""

    code = "not_found"
    message = "No registration exists with this token."


class AttendeeNotFound(DomainError):
    """The event has no attendee, registered or waiting, with this id."""

    code = "not_found"
    message = "This event has no attendee with this id."


class AnswersRequired(DomainError):
    """The event asks questions that must be answered, and no answers came."""

    code = "answers_required"
    message = "This event asks questions that must be answered."


class RequestNotPending(DomainError):
    """The event has no registration awaiting approval with this id."""

    code = "not_found"
    message = "This event has no registration awaiting approval with this id."


class QuestionNotFound(DomainError):
    """The event has no question with this id."""

    code = "not_found"
    message = "This event has no question with this id."


class InvalidTicket(DomainError):
    """Not a ticket of any event: malformed, or its signature does not hold (forged, altered)."""

    code = "invalid_ticket"
    message = "This is not a valid ticket."


class WrongEvent(DomainError):
    """A genuine ticket, of another event."""

    code = "wrong_event"
    message = "This ticket is for another event."


class NotAdmitted(DomainError):
    """A genuine ticket of this event that admits nobody: a waiting place, a cancelled or
    removed registration, or a cancelled event."""

    code = "not_admitted"
    message = "This ticket does not admit: no seat is held with it, or the event is cancelled."


class AlreadyCheckedIn(DomainError):
    """The ticket was admitted before; `first` is that admission (core.checkin.Admission's
    fields: id, registration, name, checked_in_at, device)."""

    code = "already_checked_in"
    message = "This ticket has already been checked in."

    def __init__(self, first: dict | None = None, message: str | None = None):
        self.first = first
        super().__init__(message)

    def details(self) -> dict:
        if self.first is None:
            return {}
        when = timezone.localtime(self.first["checked_in_at"])
        return {"first": {**self.first, "checked_in_at": when}}


class NonceReused(DomainError):
    """A scan's nonce sent again with another ticket: a scanner's bug, never replayed."""

    code = "nonce_reused"
    message = "This nonce was used for another ticket; send a fresh nonce with each scan."


class CheckInNotFound(DomainError):
    code = "not_found"
    message = "This event has no check-in with this id."


class DeviceNotFound(DomainError):
    code = "not_found"
    message = "This event has no device with this id."


class NoTicket(DomainError):
    """A waiting place: it has no ticket until it becomes a seat."""

    code = "no_ticket"
    message = "This registration waits for a seat: it has no ticket until it gets one."
