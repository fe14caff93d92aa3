"""Check-in at the door: devices, admitting a ticket exactly once (online, or uploaded from an
offline scanner), undoing an admission, and the tickets withdrawn. Reached from core.services.

Exactly once is the database's: CheckIn's unique constraint on the registration. Two gates
inserting for one ticket at the same instant meet in that index; the loser reads the winner's
row. Nothing here reads before it writes to decide whether a ticket was admitted.

An admission writes its `checkin.created` webhook message, an undoing its `checkin.reverted`,
in the same transaction (core.webhooks.publish_checkins; on PostgreSQL, an online check-in's
function): one that commits is told at least once, one that rolls back never, and the worker
fans them out, so a scan costs the same whatever the number of endpoints. A refusal, a replayed
nonce and a conflict write none.
"""

import contextlib
import enum
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.exceptions import (
    AlreadyCheckedIn,
    CheckInNotFound,
    DeviceNotFound,
    DomainError,
    EventNotFound,
    InvalidTicket,
    NonceReused,
    NotAdmitted,
    WrongEvent,
)
from core.models import (
    Attendee,
    AttendeeStatus,
    CheckIn,
    CheckInConflict,
    CheckInScan,
    Device,
    Event,
    EventStatus,
    RevocationReason,
    RevokedTicket,
    WebhookEventType,
)
from core.sql import checkin as checkin_sql
from core.sql.cursors import unlogged_cursor
from core.tickets import BadTicket, read_ticket, ticket_fingerprint
from core.webhooks import new_message_id, publish_checkins

# A device works until this long after its event ends (late leavers, a last sync).
DEVICE_GRACE = timedelta(hours=12)
# The most scans one offline upload may carry.
MAX_BATCH_SCANS = 500


class CheckInOutcome(enum.Enum):
    """How a scan ends; the value is its stable name (the error's code for a refusal), which the
    batch's `outcome`, the HTTP answer's code and the metric's label all read."""

    ADMITTED = "admitted"
    ALREADY_CHECKED_IN = AlreadyCheckedIn.code
    NOT_ADMITTED = NotAdmitted.code
    WRONG_EVENT = WrongEvent.code
    INVALID_TICKET = InvalidTicket.code

    @classmethod
    def of_refusal(cls, error: DomainError) -> "CheckInOutcome | None":
        return _REFUSAL.get(type(error))


_REFUSAL = {
    AlreadyCheckedIn: CheckInOutcome.ALREADY_CHECKED_IN,
    NotAdmitted: CheckInOutcome.NOT_ADMITTED,
    WrongEvent: CheckInOutcome.WRONG_EVENT,
    InvalidTicket: CheckInOutcome.INVALID_TICKET,
}


@dataclass(frozen=True)
class Caller:
    """Who scans: a door device, or a signed-in organiser or staff member."""

    device_id: int | None = None
    device_name: str = ""
    user_id: int | None = None

    @property
    def device(self) -> dict | None:
        """The device as an admission names it."""
        return None if self.device_id is None else {"id": self.device_id, "name": self.device_name}

    @property
    def key(self) -> str:
        """The nonce's owner: a nonce is unique per caller."""
        return f"device:{self.device_id}" if self.device_id else f"user:{self.user_id}"


@dataclass(frozen=True)
class Admission:
    """A check-in as the door is told of it."""

    id: int
    registration: int
    name: str
    checked_in_at: datetime
    device: dict | None

    @classmethod
    def of(cls, checkin: CheckIn, *, device: dict | None = None) -> "Admission":
        """`checkin` as the door is told of it; its device given, or read from the row."""
        if device is None and checkin.device_id is not None:
            device = {"id": checkin.device_id, "name": checkin.device.name}
        return cls(
            id=checkin.pk,
            registration=checkin.registration_id,
            name=checkin.name,
            checked_in_at=checkin.checked_in_at,
            device=device,
        )

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "registration": self.registration,
            "name": self.name,
            "checked_in_at": self.checked_in_at,
            "device": self.device,
        }

    def to_json(self) -> dict:
        return {**self.as_dict(), "checked_in_at": self.checked_in_at.isoformat()}

    @classmethod
    def from_json(cls, data: dict) -> "Admission":
        return cls(**{**data, "checked_in_at": datetime.fromisoformat(data["checked_in_at"])})


@dataclass(frozen=True)
class OfflineScan:
    """One scan a device made offline: the ticket, its nonce, and when it was scanned."""

    ticket: str
    nonce: str
    scanned_at: datetime


# ---------------------------------------------------------------------------------------------
# Devices


def create_device(*, event_id: int, name: str, token_hash: str) -> Device:
    """A door device for the event, known by the hash of its token (issued by the caller, shown
    once to the organiser). Raises EventNotFound."""
    if not Event.objects.filter(pk=event_id).exists():
        raise EventNotFound
    return Device.objects.create(event_id=event_id, name=name, token_hash=token_hash)


def revoke_device(*, event_id: int, device_id: int) -> None:
    """Revoke the device: its token works no more; its check-ins stay. Raises DeviceNotFound for
    a device the event has not, or has revoked already."""
    revoked = Device.objects.filter(pk=device_id, event_id=event_id, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    if not revoked:
        raise DeviceNotFound


def working_devices(*, now: datetime) -> QuerySet[Device]:
    """Devices whose token works at `now`: not revoked, their event not over DEVICE_GRACE ago."""
    return Device.objects.filter(revoked_at=None, event__end_time__gt=now - DEVICE_GRACE)


# ---------------------------------------------------------------------------------------------
# Admitting


def check_in_ticket(
    *, event_id: int, ticket: str, nonce: str, caller: Caller, now: datetime | None = None
) -> Admission:
    """Admit the ticket's holder to the event, once: the Admission made.

    Raises InvalidTicket (a forgery or not a ticket) or WrongEvent (another event's ticket)
    before any database work; NotAdmitted for a waiting place, a withdrawn registration or a
    cancelled event; AlreadyCheckedIn (with the first admission) for a ticket admitted before.
    The same `nonce` from the same caller again gets the first verdict again, even when sent
    concurrently; with another ticket, NonceReused. On PostgreSQL the database work is one
    statement (core/sql/checkin.py).
    """
    registration_id = _registration_of(ticket, event_id=event_id)
    scan = ScanRequest(
        event_id=event_id,
        registration_id=registration_id,
        caller=caller,
        nonce=nonce,
        ticket_hash=ticket_fingerprint(ticket),
        at=now or timezone.now(),
    )
    record = _check_in_in_sql if connection.vendor == "postgresql" else _check_in_in_python
    try:
        verdict, admission = record(scan)
    except IntegrityError:
        # A twin of this scan (same nonce) committed first: its verdict is this one's.
        earlier = _scan(event_id=event_id, caller=caller, nonce=nonce)
        if earlier is None:
            raise
        verdict, admission = _replayed(earlier, scan.ticket_hash)
    if verdict == checkin_sql.NONCE_REUSED:
        raise NonceReused
    outcome = CheckInOutcome(verdict)
    if outcome is CheckInOutcome.ADMITTED:
        return Admission.from_json(admission)
    if outcome is CheckInOutcome.ALREADY_CHECKED_IN:
        raise AlreadyCheckedIn(Admission.from_json(admission).as_dict())
    raise NotAdmitted


@dataclass(frozen=True)
class ScanRequest:
    """One online scan, its ticket verified: what the database work needs."""

    event_id: int
    registration_id: int
    caller: Caller
    nonce: str
    ticket_hash: str
    at: datetime


def _check_in_in_python(scan: ScanRequest) -> tuple[str, dict | None]:
    """check_in_ticket's database work as Django queries, in one transaction: the verdict (an
    outcome's value, or NONCE_REUSED) and the admission it names, as JSON."""
    with transaction.atomic():
        earlier = _scan(event_id=scan.event_id, caller=scan.caller, nonce=scan.nonce)
        if earlier is not None:
            return _replayed(earlier, scan.ticket_hash)
        outcome, admission = _admit(
            event_id=scan.event_id,
            registration_id=scan.registration_id,
            at=scan.at,
            caller=scan.caller,
        )
        answer = None if admission is None else admission.to_json()
        CheckInScan.objects.create(
            event_id=scan.event_id,
            caller=scan.caller.key,
            nonce=scan.nonce,
            ticket_hash=scan.ticket_hash,
            outcome=outcome.value,
            admission=answer,
        )
    return outcome.value, answer


def _check_in_in_sql(scan: ScanRequest) -> tuple[str, dict | None]:
    """check_in_ticket's database work as core/sql/checkin.py's one statement."""
    # Inside a caller's transaction, a savepoint: a twin's unique violation must not abort it.
    undoable = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with undoable, unlogged_cursor() as cursor:
        cursor.execute(
            checkin_sql.CALL,
            [
                scan.event_id,
                scan.registration_id,
                scan.caller.key,
                scan.caller.device_id,
                scan.caller.device_name,
                scan.caller.user_id,
                scan.nonce,
                scan.ticket_hash,
                scan.at,
                new_message_id(),
            ],
        )
        verdict, admission = cursor.fetchone()
    return verdict, None if admission is None else json.loads(admission)


def _replayed(scan: CheckInScan, ticket_hash: str) -> tuple[str, dict | None]:
    """The verdict a recorded scan got, for a repeat of its nonce with `ticket_hash`."""
    if scan.ticket_hash != ticket_hash:
        return checkin_sql.NONCE_REUSED, None
    return scan.outcome, scan.admission


def sync_offline_scans(
    *, event_id: int, scans: Sequence[OfflineScan], caller: Caller
) -> list[CheckInOutcome]:
    """Record the scans a device made offline, each an admission at the door; their outcomes in
    the same order. One transaction; a nonce recorded before keeps its first outcome.

    Of several admissions of one ticket (on any devices, online or offline) the earliest is the
    check-in; each later one is kept as a CheckInConflict and answered `already_checked_in`.
    A scan earlier than the ticket's check-in takes its place, and the former becomes the
    conflict. Forged and foreign tickets are judged before any database work.

    Each admission writes a `checkin.created` message (a scan that took an earlier check-in's
    place: that check-in again, as it now is), all in one INSERT; timestamped with the upload,
    `checked_in_at` being the scan's time.
    """
    if len(scans) > MAX_BATCH_SCANS:
        raise ValueError(f"At most {MAX_BATCH_SCANS} scans per upload.")
    outcomes: list[CheckInOutcome | None] = [None] * len(scans)
    claims: dict[int, int] = {}
    for index, scan in enumerate(scans):
        try:
            claims[index] = _registration_of(scan.ticket, event_id=event_id)
        except (InvalidTicket, WrongEvent) as error:
            outcomes[index] = CheckInOutcome.of_refusal(error)
    if not claims:
        return outcomes
    with transaction.atomic():
        seen = {
            scan.nonce: scan
            for scan in CheckInScan.objects.filter(
                event_id=event_id,
                caller=caller.key,
                nonce__in={scans[index].nonce for index in claims},
            )
        }
        admits = _admittable(event_id=event_id, registration_ids=set(claims.values()))
        fresh: dict[str, int] = {}
        admitted: list[tuple[CheckIn, dict | None]] = []
        # By ticket, then time: the earliest admission of a ticket is decided first, and
        # concurrent uploads take their tickets' locks in one order.
        order = sorted(claims, key=lambda index: (claims[index], scans[index].scanned_at))
        for index in order:
            scan = scans[index]
            earlier = seen.get(scan.nonce)
            if earlier is not None:
                if earlier.ticket_hash != ticket_fingerprint(scan.ticket):
                    raise NonceReused
                outcomes[index] = CheckInOutcome(earlier.outcome)
                continue
            if scan.nonce in fresh:
                outcomes[index] = outcomes[fresh[scan.nonce]]
                continue
            fresh[scan.nonce] = index
            name = admits.get(claims[index])
            if name is None:
                outcomes[index] = CheckInOutcome.NOT_ADMITTED
            else:
                outcomes[index], checkin = _admit_offline(
                    event_id=event_id,
                    registration_id=claims[index],
                    name=name,
                    at=scan.scanned_at,
                    caller=caller,
                )
                if checkin is not None:
                    admitted.append((checkin, caller.device))
        CheckInScan.objects.bulk_create(
            CheckInScan(
                event_id=event_id,
                caller=caller.key,
                nonce=scans[index].nonce,
                ticket_hash=ticket_fingerprint(scans[index].ticket),
                outcome=outcomes[index].value,
            )
            for index in fresh.values()
        )
        # The admissions' webhook messages: one INSERT for the upload.
        publish_checkins(type=WebhookEventType.CHECKIN_CREATED, checkins=admitted)
    return outcomes


def undo_check_in(*, event_id: int, checkin_id: int) -> None:
    """Undo a mistaken admission: the ticket may be checked in again, and a `checkin.reverted`
    message (the check-in as it was) is written in the same transaction. Raises
    CheckInNotFound; of two undoings at once, one deletes and is told, the other waits for the
    row's lock and finds it gone."""
    with transaction.atomic():
        checkin = (
            CheckIn.objects.filter(pk=checkin_id, event_id=event_id)
            .select_related("device")
            .select_for_update(of=("self",))
            .first()
        )
        if checkin is None or not CheckIn.objects.filter(pk=checkin.pk).delete()[0]:
            raise CheckInNotFound
        told = (checkin, Admission.of(checkin).device)
        publish_checkins(type=WebhookEventType.CHECKIN_REVERTED, checkins=[told])


def _registration_of(ticket: str, *, event_id: int) -> int:
    """The registration a genuine ticket of this event names; InvalidTicket or WrongEvent."""
    try:
        claim = read_ticket(ticket)
    except BadTicket:
        raise InvalidTicket from None
    if claim.event_id != event_id:
        raise WrongEvent
    return claim.registration_id


def _checkin_of(registration_id: int) -> QuerySet[CheckIn]:
    return CheckIn.objects.filter(registration_id=registration_id)


def _scan(*, event_id: int, caller: Caller, nonce: str) -> CheckInScan | None:
    return CheckInScan.objects.filter(event_id=event_id, caller=caller.key, nonce=nonce).first()


def _admittable(*, event_id: int, registration_ids: Iterable[int]) -> dict[int, str]:
    """The names of the registrations that hold a seat at the event, if it takes place."""
    return dict(
        Attendee.objects.filter(
            pk__in=registration_ids,
            event_id=event_id,
            status=AttendeeStatus.REGISTERED,
            event__status=EventStatus.SCHEDULED,
        ).values_list("pk", "name")
    )


def _admit(
    *, event_id: int, registration_id: int, at: datetime, caller: Caller
) -> tuple[CheckInOutcome, Admission | None]:
    """Insert the check-in and its webhook message; the unique constraint refuses a ticket
    admitted before."""
    name = _admittable(event_id=event_id, registration_ids=[registration_id]).get(registration_id)
    if name is None:
        return CheckInOutcome.NOT_ADMITTED, None
    checkin = CheckIn(
        event_id=event_id,
        registration_id=registration_id,
        name=name,
        device_id=caller.device_id,
        user_id=caller.user_id,
        checked_in_at=at,
    )
    try:
        with transaction.atomic():
            checkin.save(force_insert=True)
    except IntegrityError:
        # Admitted before (the constraint checkin_once_per_ticket): that admission answers.
        first = _checkin_of(registration_id).select_related("device").first()
        if first is None:
            raise
        return CheckInOutcome.ALREADY_CHECKED_IN, Admission.of(first)
    publish_checkins(
        type=WebhookEventType.CHECKIN_CREATED,
        checkins=[(checkin, caller.device)],
        occurred_at=at,
    )
    return CheckInOutcome.ADMITTED, Admission.of(checkin, device=caller.device)


def _admit_offline(
    *, event_id: int, registration_id: int, name: str, at: datetime, caller: Caller
) -> tuple[CheckInOutcome, CheckIn | None]:
    """An offline admission: the check-in if none is earlier (returned with it, new or moved
    to this scan), else a conflict."""
    try:
        with transaction.atomic():
            checkin = CheckIn.objects.create(
                event_id=event_id,
                registration_id=registration_id,
                name=name,
                device_id=caller.device_id,
                user_id=caller.user_id,
                checked_in_at=at,
                offline=True,
            )
        return CheckInOutcome.ADMITTED, checkin
    except IntegrityError:
        first = _checkin_of(registration_id).select_for_update().first()
        if first is None:
            raise
    if first.checked_in_at <= at:
        CheckInConflict.objects.create(
            event_id=event_id,
            registration_id=registration_id,
            name=name,
            first_device_id=first.device_id,
            first_at=first.checked_in_at,
            again_device_id=caller.device_id,
            again_at=at,
        )
        return CheckInOutcome.ALREADY_CHECKED_IN, None
    # This scan came first: it becomes the check-in, the former admission the conflict.
    CheckInConflict.objects.create(
        event_id=event_id,
        registration_id=registration_id,
        name=name,
        first_device_id=caller.device_id,
        first_at=at,
        again_device_id=first.device_id,
        again_at=first.checked_in_at,
    )
    first.device_id, first.user_id, first.checked_in_at, first.offline = (
        caller.device_id,
        caller.user_id,
        at,
        True,
    )
    first.save(update_fields=["device", "user", "checked_in_at", "offline"])
    return CheckInOutcome.ADMITTED, first


# ---------------------------------------------------------------------------------------------
# Withdrawn tickets


def revoke_tickets(
    *, event_id: int, registration_ids: Iterable[int], reason: RevocationReason
) -> None:
    """Record the tickets of these seats as withdrawn, for offline scanners to refuse."""
    RevokedTicket.objects.bulk_create(
        RevokedTicket(event_id=event_id, registration_id=registration_id, reason=reason)
        for registration_id in registration_ids
    )


def revoked_since(*, event_id: int, since: datetime | None) -> QuerySet[RevokedTicket]:
    """The event's withdrawn tickets, those withdrawn at or after `since` when given."""
    revoked = RevokedTicket.objects.filter(event_id=event_id)
    if since is not None:
        revoked = revoked.filter(revoked_at__gte=since)
    return revoked.order_by("revoked_at", "id")
