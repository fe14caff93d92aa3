"""Domain errors: what went wrong in the user's terms, with a stable machine code."""


class DomainError(Exception):
    """A business rule refused the operation; `code` is stable, `message` is for a person."""

    code = "domain_error"
    message = "The operation was refused."

    def __init__(self, message: str | None = None):
        self.message = message or self.message
        super().__init__(self.message)


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
