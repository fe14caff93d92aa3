"""Every write that carries a business rule, each in one transaction."""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat, Now
from django.utils import timezone

from core.checkin import (  # noqa: F401 - check-in's services, reached from here
    Admission,
    Caller,
    CheckInOutcome,
    OfflineScan,
    check_in_ticket,
    create_device,
    revoke_device,
    revoke_tickets,
    sync_offline_scans,
    undo_check_in,
)
from core.emails import normalize_email
from core.exceptions import (
    AlreadyRegistered,
    AttendeeNotFound,
    CapacityBelowAttendance,
    DomainError,
    EventCancelled,
    EventFull,
    EventNotFound,
    EventStarted,
    QuestionNotFound,
    RegistrationNotFound,
    RequestNotPending,
)
from core.models import (
    CAPACITY_BELOW_ATTENDANCE_MESSAGE,
    ERASED_DOMAIN,
    ERASED_NAME,
    WEBHOOK_PING,
    Attendee,
    AttendeeStatus,
    CheckIn,
    CheckInConflict,
    CheckInScan,
    ErasureRecord,
    Event,
    EventStatus,
    IdempotencyKey,
    MessageKind,
    MessageStatus,
    OutgoingMessage,
    Question,
    RevocationReason,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEventType,
    WebhookMessage,
)
from core.outbox import queue_message, queue_messages, requeue_messages
from core.rules import DECISION_FIELDS, RegistrationOutcome, decide_approval, decide_registration
from core.selectors import ORGANISERS_GROUP, Place, event_attendees, is_registered, waiting_list
from core.sql import registration as registration_sql
from core.sql.cursors import unlogged_cursor
from core.tokens import hash_token, new_token
from core.webhooks import (
    CHECKIN_TYPES,
    ROTATION_OVERLAP,
    check_url,
    new_message_id,
    new_secret,
    publish_event,
)

# Which domain error a violated constraint stands for; the name appears in the database's message.
CONSTRAINT_ERRORS: dict[str, type[DomainError]] = {
    "attendee_unique_email_per_event": AlreadyRegistered,
    "event_seats_taken_within_capacity": EventFull,
}


# The details a calendar invite shows: a change to one sends attendees an updated invite.
INVITE_FIELDS = ["name", "location", "start_time", "end_time"]

CANCEL_STARTED_MESSAGE = "This event has already started: it can no longer be cancelled."


@dataclass(frozen=True)
class Registration:
    """A place just taken, and the secret that reads or cancels it: shown once, never stored."""

    attendee: Attendee
    token: str
    # The place on the waiting list, 1 for the next; None for a seat.
    position: int | None = None
    outcome: RegistrationOutcome = RegistrationOutcome.SEAT

    @property
    def waitlisted(self) -> bool:
        return self.attendee.waitlisted


def domain_error_for(error: IntegrityError) -> DomainError | None:
    """The domain error matching the constraint `error` reports, if it is one of ours."""
    message = str(error)
    for constraint, domain_error in CONSTRAINT_ERRORS.items():
        if constraint in message:
            return domain_error()
    return None


def create_event(*, owner: AbstractBaseUser | None, **details: Any) -> Event:
    """Create an event owned by `owner` (None: nobody's, for staff to manage), with `details`:
    the fields an organiser sets (Event.ORGANISER_FIELDS), by name.

    The caller has checked the fields; the model and the database check them again. Raises
    TypeError for a field that is not an organiser's.
    """
    event = Event(owner=owner, **_organiser_fields(details))
    event.clean()
    with transaction.atomic():
        event.save()
        publish_event(type=WebhookEventType.EVENT_CREATED, event=event)
    return event


def update_event(*, event_id: int, **changes: Any) -> Event:
    """Change the fields given (Event.ORGANISER_FIELDS, by name; the others stay as they are);
    the seat counter is kept.

    The event row is locked first, as in register_attendee, so a registration cannot take a
    seat between the capacity check and the write, and the details not given are the stored
    ones, not a copy read earlier. Seats a raised capacity adds go to the waiting list, longest
    waiting first, in the same transaction. Raises EventNotFound, EventCancelled, EventStarted
    for a new start of an event that has begun, CapacityBelowAttendance, ValidationError for
    an end not after the start, or TypeError for a field that is not an organiser's.

    A change to any field publishes `event.updated` (core/webhooks.py). A change to the name,
    place or times raises the event's SEQUENCE and queues an updated
    invite to each attendee holding a seat, in the same transaction.
    """
    changes = _organiser_fields(changes)
    try:
        with transaction.atomic():
            event = Event.objects.select_for_update().filter(pk=event_id).first()
            if event is None:
                raise EventNotFound
            if event.cancelled:
                raise EventCancelled
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
            changed = {field for field, value in changes.items() if value != getattr(event, field)}
            rescheduled = bool(changed.intersection(INVITE_FIELDS))
            for field, value in changes.items():
                setattr(event, field, value)
            event.clean()
            if rescheduled:
                event.sequence += 1
            # Never write the counters back: the triggers keep them (core/sql/counters.py).
            event.save(update_fields=[*Event.ORGANISER_FIELDS, "sequence"])
            if rescheduled:
                queue_messages(
                    kind=MessageKind.EVENT_CHANGED,
                    event_id=event.pk,
                    attendees=Attendee.objects.filter(
                        event_id=event.pk, status=AttendeeStatus.REGISTERED
                    ).only("name", "email", "status"),
                )
            if _fill_free_seats(event_id=event.pk):
                event.refresh_from_db(fields=["seats_taken", "waitlist_taken"])
            if changed:
                publish_event(type=WebhookEventType.EVENT_UPDATED, event=event)
    except IntegrityError as error:
        # The counter's constraint means "full" to a registration, "too small" to this change.
        if not isinstance(domain_error_for(error), EventFull):
            raise
        raise CapacityBelowAttendance from error
    return event


def register_attendee(
    *,
    event_id: int,
    name: str,
    email: str,
    waitlist: bool = False,
    answers: dict[str, Any] | None = None,
) -> Registration:
    """Give `email` a seat at the event, or with `waitlist` a place on its waiting list when no
    seat is free; or raise the DomainError that says why not.

    What it gets is core.rules.decide_registration's answer, read under the event's row lock,
    so concurrent registrations for one event queue there and each sees the counters the
    previous one left. While anyone waits, a newcomer never takes a seat, even one left free
    (by a row deleted outside the services): it is the waiting list's. Raises EventNotFound,
    EventCancelled, RegistrationClosed, EventFull or AlreadyRegistered (for a seat, a waiting
    place or a pending request alike), AnswersRequired when the event asks required questions
    and `answers` is None (answers given were checked against the event's questions by the
    caller, and are stored as given, in the same statement), or a ValidationError on `email`
    when it has no normalised form (core.emails.normalize_email).

    The confirmation email (seat or waiting place) is queued in the same transaction, as an
    outbox row: nothing rendered or sent here (core/outbox.py). On PostgreSQL the lock, the
    decision and both inserts are one statement (core/sql/registration.py): outside a
    transaction, one round trip, commit included.
    """
    try:
        # Stored and compared in one spelling, so one mailbox registers once.
        email = normalize_email(email)
    except ValidationError as error:
        raise ValidationError({"email": error}) from None
    nonce, token, digest = new_token()
    attendee = Attendee(
        event_id=event_id,
        name=name,
        email=email,
        token_hash=digest,
        token_nonce=nonce,
        answers=answers if answers is not None else {},
    )
    register = _register_in_sql if connection.vendor == "postgresql" else _register_in_python
    try:
        outcome, position = register(attendee, waitlist=waitlist, answered=answers is not None)
    except IntegrityError as error:
        # A repeat with a seat free, met by the unique constraint on the Python path.
        domain_error = domain_error_for(error)
        if domain_error is None:
            raise
        raise domain_error from error
    if outcome.error is not None:
        raise outcome.error
    return Registration(attendee=attendee, token=token, position=position, outcome=outcome)


def _register_in_python(
    attendee: Attendee, *, waitlist: bool, answered: bool
) -> tuple[RegistrationOutcome, int | None]:
    """register_attendee's decision and writes as Django queries: the lock, perhaps a read of
    the event's registrations, the inserts. Fills in `attendee` when it is written; the outcome
    and the waiting place's position."""
    event_id = attendee.event_id
    with transaction.atomic():
        event = Event.objects.select_for_update().only(*DECISION_FIELDS).filter(pk=event_id).first()
        outcome = decide_registration(
            event,
            now=timezone.now(),
            waitlist=waitlist,
            registered=lambda: is_registered(event_id=event_id, email=attendee.email),
            answered=answered,
        )
        if not outcome.takes_place:
            return outcome, None
        attendee.status = outcome.status
        # Under the lock, every waiting row of the event is older than this one.
        position = event.waitlist_taken + 1 if attendee.waitlisted else None
        # The insert's trigger takes the seat or the waiting place (core/sql/counters.py)
        # within this statement; a pending row takes neither.
        attendee.save(force_insert=True)
        queue_message(
            kind=outcome.message_kind,
            event_id=event_id,
            attendee_id=attendee.pk,
            name=attendee.name,
            email=attendee.email,
            seated=attendee.status == AttendeeStatus.REGISTERED,
        )
    return outcome, position


def _register_in_sql(
    attendee: Attendee, *, waitlist: bool, answered: bool
) -> tuple[RegistrationOutcome, int | None]:
    """register_attendee as core/sql/registration.py's one statement; as _register_in_python."""
    with unlogged_cursor() as cursor:
        cursor.execute(
            registration_sql.CALL,
            [
                attendee.event_id,
                attendee.name,
                attendee.email,
                attendee.token_hash,
                attendee.token_nonce,
                waitlist,
                registration_sql.deadline(connection),
                json.dumps(attendee.answers) if answered else None,
            ],
        )
        name, attendee_id, position, registered_at = cursor.fetchone()
    outcome = RegistrationOutcome(name)
    if outcome.takes_place:
        attendee.pk, attendee.registered_at, attendee.status = (
            attendee_id,
            registered_at,
            outcome.status,
        )
        attendee._state.adding = False
    return outcome, position


def cancel_registration_by_token(*, token: str) -> None:
    """Give up the seat or waiting place `token` was issued for; a freed seat goes to the
    longest-waiting entry in the same transaction. Raises RegistrationNotFound for a token that
    names nothing (never issued, or cancelled already). The holder is told by email."""
    digest = hash_token(token)
    with transaction.atomic():
        attendee = (
            Attendee.objects.filter(token_hash=digest)
            .only("event_id", "name", "email", "status")
            .first()
        )
        if attendee is None:
            raise RegistrationNotFound
        _lock_event(attendee.event_id)
        # Read again under the lock: cancelled by a concurrent request meanwhile (gone now), or
        # promoted to a seat, whose invite the goodbye email then withdraws.
        attendee = (
            Attendee.objects.filter(token_hash=digest, event_id=attendee.event_id)
            .only("event_id", "name", "email", "status")
            .first()
        )
        if attendee is None or not _delete_attendees(Attendee.objects.filter(pk=attendee.pk)):
            raise RegistrationNotFound
        _queue_goodbye(MessageKind.CANCELLED, attendee, reason=RevocationReason.CANCELLED)
        _fill_free_seats(event_id=attendee.event_id)


def remove_attendee(*, event_id: int, attendee_id: int) -> None:
    """Remove an attendee, seated or waiting, from the event (an organiser's decision); a freed
    seat goes to the longest-waiting entry in the same transaction. Raises EventNotFound, or
    AttendeeNotFound when the event has no attendee with this id. The attendee is told by
    email."""
    with transaction.atomic():
        _lock_event(event_id)
        attendee = (
            Attendee.objects.filter(pk=attendee_id, event_id=event_id)
            .only("event_id", "name", "email", "status")
            .first()
        )
        if attendee is None or not _delete_attendees(
            Attendee.objects.filter(pk=attendee_id, event_id=event_id)
        ):
            raise AttendeeNotFound
        _queue_goodbye(MessageKind.REMOVED, attendee, reason=RevocationReason.REMOVED)
        _fill_free_seats(event_id=event_id)


def approve_registration(*, event_id: int, attendee_id: int) -> Place:
    """Approve the event's pending request `attendee_id`: a seat if one is free and nobody
    waits, else a place on the waiting list (core.rules.decide_approval), decided under the
    event's lock as every seat is, so concurrent approvals never overbook. Raises
    EventNotFound, RequestNotPending (no such request, or decided already), EventCancelled or
    RegistrationClosed. The attendee is told by email."""
    with transaction.atomic():
        event = _lock_event(event_id)
        attendee = (
            Attendee.objects.filter(
                pk=attendee_id, event_id=event_id, status=AttendeeStatus.PENDING
            )
            .select_for_update()
            .first()
        )
        if attendee is None:
            raise RequestNotPending
        outcome = decide_approval(event, now=timezone.now())
        if outcome.error is not None:
            raise outcome.error
        position = (
            event.waitlist_taken + 1 if outcome is RegistrationOutcome.WAITING_PLACE else None
        )
        attendee.status = outcome.status
        # The update's trigger takes the seat or the waiting place, under the counters' check.
        attendee.save(update_fields=["status"])
        queue_message(
            kind=MessageKind.APPROVED,
            event_id=event_id,
            attendee_id=attendee.pk,
            name=attendee.name,
            email=attendee.email,
            seated=outcome is RegistrationOutcome.SEAT,
        )
    return Place(attendee=attendee, position=position)


def decline_registration(*, event_id: int, attendee_id: int, message: str = "") -> None:
    """Decline the event's pending request `attendee_id`: the request is deleted (it held no
    seat) and the attendee told by email, with the organiser's `message` if any. Raises
    EventNotFound or RequestNotPending."""
    with transaction.atomic():
        _lock_event(event_id)
        attendee = (
            Attendee.objects.filter(
                pk=attendee_id, event_id=event_id, status=AttendeeStatus.PENDING
            )
            .only("event_id", "name", "email", "status")
            .first()
        )
        if attendee is None or not _delete_attendees(
            Attendee.objects.filter(pk=attendee_id, status=AttendeeStatus.PENDING)
        ):
            raise RequestNotPending
        OutgoingMessage.objects.create(
            kind=MessageKind.DECLINED,
            event_id=event_id,
            attendee_id=attendee.pk,
            name=attendee.name,
            email=attendee.email,
            note=message,
        )


def erase_registration_by_token(*, token: str) -> None:
    """Cancel the registration `token` was issued for and erase its personal data at once: the
    row goes (a freed seat goes to the waiting list, so the counts stay true), and the outbox's
    copies of its name and email, and the idempotency store's answer to its registration, are
    replaced by a tombstone or deleted. No goodbye email: there is no address left to send it
    to. Raises RegistrationNotFound. Recorded without the data (ErasureRecord)."""
    digest = hash_token(token)
    with transaction.atomic():
        attendee = Attendee.objects.filter(token_hash=digest).only("event_id").first()
        if attendee is None:
            raise RegistrationNotFound
        _lock_event(attendee.event_id)
        attendee = Attendee.objects.filter(token_hash=digest, event_id=attendee.event_id).first()
        if attendee is None or not _delete_attendees(Attendee.objects.filter(pk=attendee.pk)):
            raise RegistrationNotFound
        _erase_messages(OutgoingMessage.objects.filter(attendee_id=attendee.pk))
        _erase_checkins(event_id=attendee.event_id, registration_ids=[attendee.pk])
        _erase_idempotent_answers(attendee, secrets=[token, attendee.email])
        ErasureRecord.objects.create(event_id=attendee.event_id, count=1, reason="attendee")
        _fill_free_seats(event_id=attendee.event_id)


def erase_registrations(
    *, event_id: int, attendee_ids: list[int] | None = None, reason: str
) -> int:
    """Replace the personal data of the event's registrations (those of `attendee_ids`, when
    given; else all) by a tombstone, in place: the name, a unique address per row (so the
    (event, lower(email)) index holds), no answers, no token. Their statuses stay, so the seat
    counts and the event's figures stay true. The outbox's copies go the same way (all of the
    event's when erasing all), queued ones are not sent. How many were erased, recorded without
    the data (ErasureRecord, with `reason`). Raises EventNotFound.

    The door's copies of their names go too (core/checkin.py's rows), and for registrations
    named by `attendee_ids` (staff's, at any time) the idempotency store's copies of their
    answers; retention comes long after those expired."""
    with transaction.atomic():
        _lock_event(event_id)
        attendees = Attendee.objects.filter(event_id=event_id, erased_at__isnull=True)
        messages = OutgoingMessage.objects.filter(event_id=event_id)
        if attendee_ids is not None:
            attendees = attendees.filter(pk__in=attendee_ids)
            messages = messages.filter(attendee_id__in=attendee_ids)
            for attendee in attendees.only("email", "registered_at"):
                _erase_idempotent_answers(attendee, secrets=[attendee.email])
        count = attendees.update(
            name=ERASED_NAME,
            email=Concat(Value("erased-"), Cast("id", CharField()), Value(f"@{ERASED_DOMAIN}")),
            answers={},
            token_hash=None,
            token_nonce="",
            erased_at=Now(),
        )
        _erase_messages(messages)
        _erase_checkins(event_id=event_id, registration_ids=attendee_ids)
        if count:
            ErasureRecord.objects.create(event_id=event_id, count=count, reason=reason)
    return count


def erase_expired_registrations(*, now: datetime | None = None) -> list[ErasureRecord]:
    """Erase the personal data of every registration of the events that ended more than the
    RETENTION period (DJANGO_RETENTION_DAYS) before `now` (default: now), one event per
    transaction, as erase_registrations does; their records, one per event. The worker runs
    it periodically, `manage.py erase_expired` by hand."""
    cutoff = (now or timezone.now()) - settings.RETENTION
    expired = (
        Event.objects.filter(end_time__lt=cutoff)
        .filter(
            Exists(Attendee.objects.filter(event_id=OuterRef("pk"), erased_at__isnull=True))
            | Exists(
                OutgoingMessage.objects.filter(event_id=OuterRef("pk")).exclude(
                    email__endswith=f"@{ERASED_DOMAIN}"
                )
            )
        )
        .values_list("pk", flat=True)
    )
    # The kept answers to registration requests repeat names and emails: expired ones go too
    # (they expire after hours, long before any event's retention runs out).
    purge_idempotency_keys(now=now)
    records = []
    for event_id in list(expired):
        count = erase_registrations(event_id=event_id, reason="retention")
        if count:
            records.append(ErasureRecord.objects.filter(event_id=event_id).first())
    return records


def _erase_messages(messages) -> None:
    """Replace the name, address, note and error text of `messages` by a tombstone; those still
    queued are skipped, never sent to it."""
    tombstone = Concat(
        Value("erased-message-"), Cast("id", CharField()), Value(f"@{ERASED_DOMAIN}")
    )
    messages.filter(status=MessageStatus.QUEUED).update(status=MessageStatus.SKIPPED)
    messages.update(name=ERASED_NAME, email=tombstone, note="", last_error="")
    _erase_webhook_copies(
        WebhookMessage.objects.filter(source_message_id__in=messages.values("pk"))
    )


def _erase_webhook_copies(published) -> None:
    """The webhook messages `published` about erased registrations keep no name or address
    (the same tombstone, by the message's id, where the message has an address), and their
    delivery log no receiver's answer, which may have echoed them."""
    changed = []
    for message in published.only("pk", "data").iterator(chunk_size=2000):
        scrubbed = {"name": ERASED_NAME}
        if "email" in message.data:
            scrubbed["email"] = f"erased-webhook-{message.pk}@{ERASED_DOMAIN}"
        message.data = {**message.data, **scrubbed}
        changed.append(message)
    WebhookMessage.objects.bulk_update(changed, ["data"], batch_size=2000)
    WebhookAttempt.objects.filter(delivery__message__in=published).update(response_body="")


def _erase_checkins(*, event_id: int, registration_ids: list[int] | None) -> None:
    """The door's copies of the names of the event's registrations `registration_ids` (all,
    when None): their admissions, conflicts, the verdicts kept for retried scans and the
    check-in webhook messages name the tombstone (those go as _erase_webhook_copies takes
    them). Times and devices stay, so the event's arrivals stay counted."""
    checkins = CheckIn.objects.filter(event_id=event_id)
    published = WebhookMessage.objects.filter(event_id=event_id, type__in=CHECKIN_TYPES)
    conflicts = CheckInConflict.objects.filter(event_id=event_id)
    scans = CheckInScan.objects.filter(event_id=event_id, admission__isnull=False)
    if registration_ids is not None:
        checkins = checkins.filter(registration_id__in=registration_ids)
        conflicts = conflicts.filter(registration_id__in=registration_ids)
        scans = scans.filter(admission__registration__in=registration_ids)
        published = published.filter(data__registration__in=registration_ids)
    _erase_webhook_copies(published)
    checkins.update(name=ERASED_NAME)
    conflicts.update(name=ERASED_NAME)
    changed = []
    for scan in scans.only("pk", "admission").iterator(chunk_size=2000):
        scan.admission = {**scan.admission, "name": ERASED_NAME}
        changed.append(scan)
    CheckInScan.objects.bulk_update(changed, ["admission"], batch_size=2000)


def _erase_idempotent_answers(attendee: Attendee, *, secrets: list[str]) -> None:
    """Delete the kept answers to `attendee`'s registration request (they repeat its name,
    email and token): those of the registration's scope, kept around its time, that hold one
    of `secrets`."""
    around = attendee.registered_at
    kept = IdempotencyKey.objects.filter(
        scope="event.register",
        created_at__gte=around - timedelta(hours=1),
        created_at__lte=around + timedelta(hours=1),
    ).only("pk", "body")
    needles = [secret.encode() for secret in secrets if secret]
    doomed = [row.pk for row in kept if any(needle in bytes(row.body) for needle in needles)]
    IdempotencyKey.objects.filter(pk__in=doomed).delete()


def cancel_event(*, event_id: int) -> Event:
    """Cancel an event that has not started; cancelling it again changes nothing.

    Its registrations and waiting places stay as records (their holders may still read and
    cancel them by token); its seats stay counted, nobody is promoted any more, and it takes
    no new registration and no change. It leaves the upcoming list and keeps its page. Raises
    EventNotFound, or EventStarted for an event that has begun. Everyone holding a seat or a
    waiting place is told by email (with METHOD:CANCEL for the seats' invites).
    """
    with transaction.atomic():
        event = _lock_event(event_id)
        if event.cancelled:
            return event
        if event.start_time <= timezone.now():
            raise EventStarted(CANCEL_STARTED_MESSAGE)
        event.status = EventStatus.CANCELLED
        event.save(update_fields=["status"])
        revoke_tickets(
            event_id=event.pk,
            registration_ids=event_attendees(event_id=event.pk).values_list("pk", flat=True),
            reason=RevocationReason.EVENT_CANCELLED,
        )
        publish_event(type=WebhookEventType.EVENT_CANCELLED, event=event)
        queue_messages(
            kind=MessageKind.EVENT_CANCELLED,
            event_id=event.pk,
            attendees=Attendee.objects.filter(event_id=event.pk).only("name", "email", "status"),
        )
    return event


def _organiser_fields(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = fields.keys() - set(Event.ORGANISER_FIELDS)
    if unknown:
        raise TypeError(f"Not an event field an organiser sets: {', '.join(sorted(unknown))}.")
    return fields


def _lock_event(event_id: int) -> Event:
    """The event, its row locked until the transaction ends: the first lock of every write."""
    event = Event.objects.select_for_update().filter(pk=event_id).first()
    if event is None:
        raise EventNotFound
    return event


def _queue_goodbye(kind: MessageKind, attendee: Attendee, *, reason: RevocationReason) -> None:
    """Queue the email telling `attendee`, deleted just now, that their place is gone; a seat's
    ticket is withdrawn."""
    if attendee.status == AttendeeStatus.REGISTERED:
        revoke_tickets(event_id=attendee.event_id, registration_ids=[attendee.pk], reason=reason)
    queue_message(
        kind=kind,
        event_id=attendee.event_id,
        attendee_id=attendee.pk,
        name=attendee.name,
        email=attendee.email,
        seated=attendee.status == AttendeeStatus.REGISTERED,
    )


def _delete_attendees(attendees) -> int:
    """Delete `attendees`; their triggers free the seats and places. How many went."""
    deleted, _ = attendees.delete()
    return deleted


def _fill_free_seats(*, event_id: int) -> int:
    """Give the event's free seats to its longest-waiting entries, first come first served; how
    many were promoted.

    The caller holds the event's lock. A cancelled event or one that has started promotes
    nobody: its waiting entries are closed, and never become seats.
    """
    event = Event.objects.only(*DECISION_FIELDS).get(pk=event_id)
    free = event.max_capacity - event.seats_taken
    if free <= 0 or not event.waitlist_taken or event.cancelled:
        return 0
    if event.start_time <= timezone.now():
        return 0
    promoted = list(waiting_list(event_id=event_id).only("name", "email")[:free])
    # One statement: its trigger moves the places to seats, under the capacity's constraint.
    count = Attendee.objects.filter(pk__in=[attendee.pk for attendee in promoted]).update(
        status=AttendeeStatus.REGISTERED
    )
    queue_messages(kind=MessageKind.PROMOTED, event_id=event_id, attendees=promoted, seated=True)
    return count


def save_question(*, event_id: int, question_id: int | None = None, **fields: Any) -> Question:
    """Add a question to the event (`question_id` None) or change one of its questions: the
    fields given (label, kind, choices, required, max_length, position), the others as they
    are. Answers given before keep what they said. Raises EventNotFound, or QuestionNotFound
    for an id the event has no question under. The caller has checked the fields' shape."""
    with transaction.atomic():
        _lock_event(event_id)
        if question_id is None:
            question = Question(event_id=event_id)
        else:
            question = Question.objects.filter(pk=question_id, event_id=event_id).first()
            if question is None:
                raise QuestionNotFound
        for field, value in fields.items():
            setattr(question, field, value)
        # The event's `requires_answers` follows, by trigger (core/sql/questions.py).
        question.save()
    return question


def delete_question(*, event_id: int, question_id: int) -> None:
    """Remove a question from the event; its answers stay with the registrations, as given.
    Raises EventNotFound or QuestionNotFound."""
    with transaction.atomic():
        _lock_event(event_id)
        deleted, _ = Question.objects.filter(pk=question_id, event_id=event_id).delete()
        if not deleted:
            raise QuestionNotFound


def purge_idempotency_keys(*, now: datetime | None = None) -> int:
    """Delete the idempotency keys expired at `now` (default: now), with the answers they kept;
    returns how many. A key not yet expired is kept, whatever its age."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def retry_messages(*, message_ids: list[int] | None = None) -> int:
    """Queue again the failed outgoing messages (those of `message_ids` only, when given), each
    with a fresh count of attempts; how many."""
    messages = OutgoingMessage.objects.all()
    if message_ids is not None:
        messages = messages.filter(pk__in=message_ids)
    with transaction.atomic():
        return requeue_messages(messages)


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


def create_webhook_endpoint(
    *, owner: AbstractBaseUser, url: str, event_types: list[str], enabled: bool = True
) -> WebhookEndpoint:
    """Register `url` to be told the `event_types` happening at `owner`'s events (at every
    event, for staff), signed with a fresh secret. Raises ValidationError on `url` when webhooks
    may not go there (core.webhooks.check_url)."""
    _check_webhook_url(url)
    return WebhookEndpoint.objects.create(
        owner=owner, url=url, event_types=list(event_types), enabled=enabled, secret=new_secret()
    )


def update_webhook_endpoint(*, endpoint_id: int, **changes: Any) -> WebhookEndpoint:
    """Change the endpoint's `url`, `event_types` or `enabled`; switching it on again clears
    why it was off, and its pending deliveries resume in order. Raises ValidationError on `url`
    as create_webhook_endpoint does."""
    unknown = changes.keys() - {"url", "event_types", "enabled"}
    if unknown:
        raise TypeError(f"Not a webhook endpoint field: {', '.join(sorted(unknown))}.")
    if "url" in changes:
        _check_webhook_url(changes["url"])
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
        for field, value in changes.items():
            setattr(endpoint, field, value)
        if changes.get("enabled"):
            endpoint.disabled_reason = ""
        endpoint.save()
    return endpoint


def delete_webhook_endpoint(*, endpoint_id: int) -> None:
    """Delete the endpoint, its deliveries and their attempts; nothing more is sent to it."""
    WebhookEndpoint.objects.filter(pk=endpoint_id).delete()


def rotate_webhook_secret(*, endpoint_id: int) -> WebhookEndpoint:
    """Give the endpoint a fresh secret; the one it replaces keeps signing beside it for
    ROTATION_OVERLAP (every message then carries two signatures)."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = timezone.now() + ROTATION_OVERLAP
        endpoint.secret = new_secret()
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    return endpoint


def ping_webhook_endpoint(*, endpoint_id: int) -> WebhookDelivery:
    """Queue a test message (`webhook.ping`) to the endpoint alone, sent by the worker in turn
    with its other deliveries."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
        message = WebhookMessage.objects.create(
            uid=new_message_id(),
            type=WEBHOOK_PING,
            data={"endpoint": endpoint.pk, "url": endpoint.url},
            occurred_at=timezone.now(),
            fanned_out=True,
        )
        return WebhookDelivery.objects.create(message=message, endpoint=endpoint)


def redeliver_webhook(*, delivery_id: int) -> WebhookDelivery:
    """Send the delivery again (same `webhook-id`), whatever became of it: pending again, due
    at once with a fresh retry window, before the endpoint's later deliveries. Its attempts so
    far are kept."""
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        status=WebhookDeliveryStatus.PENDING,
        attempts=0,
        retry_until=None,
        delivered_at=None,
        available_at=Now(),
    )
    return WebhookDelivery.objects.select_related("message").get(pk=delivery_id)


def _check_webhook_url(url: str) -> None:
    try:
        check_url(url)
    except ValidationError as error:
        raise ValidationError({"url": error.messages}) from None
