"""Every write that carries a business rule, each in one transaction."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.emails import normalize_email
from core.exceptions import (
    AlreadyRegistered,
    CapacityBelowAttendance,
    DomainError,
    EventFull,
    EventNotFound,
    EventStarted,
    RegistrationClosed,
)
from core.models import CAPACITY_BELOW_ATTENDANCE_MESSAGE, Attendee, Event, IdempotencyKey
from core.selectors import ORGANISERS_GROUP, is_registered

# Which domain error a violated constraint stands for; the name appears in the database's message.
CONSTRAINT_ERRORS: dict[str, type[DomainError]] = {
    "attendee_unique_email_per_event": AlreadyRegistered,
    "event_seats_taken_within_capacity": EventFull,
}


# What an organiser may change on an event; seats_taken is the services' own.
EDITABLE_EVENT_FIELDS = ["name", "location", "start_time", "end_time", "max_capacity"]


def domain_error_for(error: IntegrityError) -> DomainError | None:
    """The domain error matching the constraint `error` reports, if it is one of ours."""
    message = str(error)
    for constraint, domain_error in CONSTRAINT_ERRORS.items():
        if constraint in message:
            return domain_error()
    return None


def create_event(
    *,
    name: str,
    location: str,
    start_time: datetime,
    end_time: datetime,
    max_capacity: int,
    owner: AbstractBaseUser | None,
) -> Event:
    """Create an event owned by `owner` (None: nobody's, for staff to manage).

    The caller has checked the fields; the database checks them again.
    """
    event = Event(
        owner=owner,
        name=name,
        location=location,
        start_time=start_time,
        end_time=end_time,
        max_capacity=max_capacity,
    )
    event.clean()
    event.save()
    return event


def update_event(
    *,
    event_id: int,
    name: str | None = None,
    location: str | None = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    max_capacity: int | None = None,
) -> Event:
    """Change the details given (None leaves one as it is); the seat counter is kept.

    The event row is locked first, as in register_attendee, so a registration cannot take a
    seat between the capacity check and the write, and the details not given are the stored
    ones, not a copy read earlier. Raises EventNotFound, EventStarted for a new start of an
    event that has begun, CapacityBelowAttendance, or ValidationError for an end not after
    the start.
    """
    changes = {
        "name": name,
        "location": location,
        "start_time": start_time,
        "end_time": end_time,
        "max_capacity": max_capacity,
    }
    changes = {field: value for field, value in changes.items() if value is not None}
    try:
        with transaction.atomic():
            event = Event.objects.select_for_update().filter(pk=event_id).first()
            if event is None:
                raise EventNotFound
            if (
                "start_time" in changes
                and changes["start_time"] != event.start_time
                and event.start_time <= timezone.now()
            ):
                # Its attendees came at the time it began: moving it would rewrite that.
                raise EventStarted
            if changes.get("max_capacity", event.max_capacity) < event.seats_taken:
                raise CapacityBelowAttendance(
                    CAPACITY_BELOW_ATTENDANCE_MESSAGE.format(count=event.seats_taken)
                )
            for field, value in changes.items():
                setattr(event, field, value)
            event.clean()
            # Never write seats_taken back: the database's triggers keep it (migration 0002).
            event.save(update_fields=EDITABLE_EVENT_FIELDS)
    except IntegrityError as error:
        # The counter's constraint means "full" to a registration, "too small" to this change.
        if not isinstance(domain_error_for(error), EventFull):
            raise
        raise CapacityBelowAttendance from error
    return event


def register_attendee(*, event_id: int, name: str, email: str) -> Attendee:
    """Give `email` a seat at the event, or raise the DomainError that says why not.

    The event row is locked first, so concurrent registrations for one event queue here and
    each sees the seat count the previous one left; under the lock run one select and one
    insert. Raises EventNotFound, RegistrationClosed, EventFull or AlreadyRegistered, or a
    ValidationError on `email` when it has no normalised form (core.emails.normalize_email).
    """
    try:
        # Stored and compared in one spelling, so one mailbox registers once.
        email = normalize_email(email)
    except ValidationError as error:
        raise ValidationError({"email": error}) from None
    attendee = Attendee(event_id=event_id, name=name, email=email)
    try:
        with transaction.atomic():
            try:
                event = (
                    Event.objects.select_for_update()
                    .only("start_time", "max_capacity", "seats_taken")
                    .get(pk=event_id)
                )
            except Event.DoesNotExist:
                raise EventNotFound from None
            if event.start_time <= timezone.now():
                raise RegistrationClosed
            if event.seats_taken >= event.max_capacity:
                # Someone already holding a seat is better told so than that the event is full.
                if is_registered(event_id=event_id, email=email):
                    raise AlreadyRegistered
                raise EventFull
            # The insert's trigger takes the seat (see migration 0002) within this statement.
            attendee.save(force_insert=True)
    except IntegrityError as error:
        domain_error = domain_error_for(error)
        if domain_error is None:
            raise
        raise domain_error from error
    return attendee


def cancel_registration(*, attendee_id: int) -> None:
    """Remove a registration and give its seat back; a registration already gone is a no-op."""
    with transaction.atomic():
        event_id = (
            Attendee.objects.filter(pk=attendee_id).values_list("event_id", flat=True).first()
        )
        if event_id is None:
            return
        # The event row first, as in register_attendee, so the two never deadlock; the
        # delete's trigger gives the seat back.
        Event.objects.select_for_update().filter(pk=event_id).values_list("pk").first()
        Attendee.objects.filter(pk=attendee_id).delete()


def purge_idempotency_keys(*, now: datetime | None = None) -> int:
    """Delete the idempotency keys expired at `now` (default: now), with the answers they kept;
    returns how many. A key not yet expired is kept, whatever its age."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def create_organiser(
    *, username: str, email: str | None = None, password: str | None = None
) -> tuple[AbstractBaseUser, bool]:
    """Make `username` an organiser: a member of the organisers group, which may add events.

    A missing user is created with `password` (checked by AUTH_PASSWORD_VALIDATORS), or with
    an unusable one when None: such an organiser signs in with tokens only. An existing user
    keeps their password; `email`, when given, replaces theirs. Returns the user and whether
    they were created. Raises ValidationError for a bad username, email or password.
    """
    with transaction.atomic():
        group, _ = Group.objects.get_or_create(name=ORGANISERS_GROUP)
        group.permissions.add(Permission.objects.get_by_natural_key("add_event", "core", "event"))
        user_model = get_user_model()
        user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
        created = user is None
        if created:
            user = user_model(**{user_model.USERNAME_FIELD: username})
        if email is not None:
            user.email = email
        user.full_clean(exclude=["password"], validate_unique=created)
        if created:
            if password is None:
                user.set_unusable_password()
            else:
                validate_password(password, user)
                user.set_password(password)
        user.save()
        user.groups.add(group)
    return user, created
