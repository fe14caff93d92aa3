"""Every outcome of a registration through each path that decides it: the Python path (both
databases) and PostgreSQL's one statement (core/sql/registration.py). Each case compares the
answer, the rows, the counters and the outbox with what core.rules.decide_registration says."""

import threading
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from core import services
from core.models import Attendee, Event, EventStatus, OutgoingMessage
from core.rules import RegistrationOutcome as Outcome
from core.rules import decide_registration

pytestmark = pytest.mark.django_db

PATHS = [
    "python",
    pytest.param(
        "sql",
        marks=pytest.mark.skipif(
            connection.vendor != "postgresql", reason="the one-statement path is PostgreSQL's"
        ),
    ),
]


@pytest.fixture(params=PATHS)
def path(request, monkeypatch):
    """Which path register_attendee takes on this database."""
    if request.param == "python":
        monkeypatch.setattr(services, "_register_in_sql", services._register_in_python)
    return request.param


@dataclass
class Case:
    capacity: int = 2
    seated: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()
    status: str = EventStatus.SCHEDULED
    started: bool = False
    unknown: bool = False
    email: str = "ada@example.com"
    waitlist: bool = False
    pending: tuple[str, ...] = ()
    approval: bool = False
    requires_answers: bool = False
    # None: no answers sent.
    answers: dict | None = None


CASES = {
    "seat": (Case(), Outcome.SEAT, None),
    "seat, others seated": (Case(capacity=3, seated=("bob@example.com",)), Outcome.SEAT, None),
    "waiting place": (
        Case(capacity=1, seated=("bob@example.com",), waitlist=True),
        Outcome.WAITING_PLACE,
        1,
    ),
    "waiting place behind another": (
        Case(capacity=1, seated=("bob@example.com",), waiting=("cy@example.com",), waitlist=True),
        Outcome.WAITING_PLACE,
        2,
    ),
    "a free seat goes to the waiting list": (
        Case(capacity=3, seated=("bob@example.com",), waiting=("cy@example.com",)),
        Outcome.EVENT_FULL,
        None,
    ),
    "full": (Case(capacity=1, seated=("bob@example.com",)), Outcome.EVENT_FULL, None),
    "duplicate seat, seats free": (
        Case(seated=("Ada@Example.com",)),
        Outcome.ALREADY_REGISTERED,
        None,
    ),
    "duplicate seat, full": (
        Case(capacity=1, seated=("ADA@example.com",), waitlist=True),
        Outcome.ALREADY_REGISTERED,
        None,
    ),
    "duplicate waiting place": (
        Case(capacity=1, seated=("bob@example.com",), waiting=("ada@example.com",), waitlist=True),
        Outcome.ALREADY_REGISTERED,
        None,
    ),
    "closed": (Case(started=True), Outcome.REGISTRATION_CLOSED, None),
    "cancelled": (Case(status=EventStatus.CANCELLED), Outcome.EVENT_CANCELLED, None),
    "cancelled and started": (
        Case(status=EventStatus.CANCELLED, started=True),
        Outcome.EVENT_CANCELLED,
        None,
    ),
    "unknown event": (Case(unknown=True), Outcome.EVENT_NOT_FOUND, None),
    "pending request": (Case(approval=True), Outcome.PENDING, None),
    "pending request, full, waiting wished": (
        Case(capacity=1, seated=("bob@example.com",), approval=True, waitlist=True),
        Outcome.PENDING,
        None,
    ),
    "pending request holds no seat": (
        Case(capacity=1, pending=("bob@example.com",)),
        Outcome.SEAT,
        None,
    ),
    "approval, full, no waiting": (
        Case(capacity=1, seated=("bob@example.com",), approval=True),
        Outcome.EVENT_FULL,
        None,
    ),
    "duplicate of a pending request, seats free": (
        Case(approval=True, pending=("ADA@example.com",)),
        Outcome.ALREADY_REGISTERED,
        None,
    ),
    "duplicate of a pending request, full": (
        Case(capacity=1, seated=("bob@example.com",), pending=("ada@example.com",), waitlist=True),
        Outcome.ALREADY_REGISTERED,
        None,
    ),
    "approval closed": (Case(approval=True, started=True), Outcome.REGISTRATION_CLOSED, None),
    "required answers missing": (Case(requires_answers=True), Outcome.ANSWERS_REQUIRED, None),
    "required answers missing, cancelled": (
        Case(requires_answers=True, status=EventStatus.CANCELLED),
        Outcome.ANSWERS_REQUIRED,
        None,
    ),
    "answers given": (
        Case(requires_answers=True, answers={"7": "vegan", "8": ["S", "M"], "9": True}),
        Outcome.SEAT,
        None,
    ),
    "answers given, pending": (
        Case(approval=True, answers={"7": "vegan"}),
        Outcome.PENDING,
        None,
    ),
}


# With a seat free the decision offers it, and the unique constraint on (event, lower(email))
# turns a repeat away at the insert (core.rules.decide_registration).
REFUSED_BY_THE_INSERT = {"duplicate seat, seats free", "duplicate of a pending request, seats free"}
# What the decision would give but for the insert's refusal.
OFFERED = {
    "duplicate seat, seats free": Outcome.SEAT,
    "duplicate of a pending request, seats free": Outcome.PENDING,
}


def make_event(case: Case, event_factory) -> Event:
    start = timezone.now() + (timedelta(hours=-1) if case.started else timedelta(days=3))
    event = event_factory(
        max_capacity=case.capacity, start_time=start, end_time=start + timedelta(hours=3)
    )
    for email in case.seated:
        Attendee.objects.create(event=event, name="Seated", email=email)
    for email in case.waiting:
        Attendee.objects.create(event=event, name="Waiting", email=email, status="waitlisted")
    for email in case.pending:
        Attendee.objects.create(event=event, name="Pending", email=email, status="pending")
    Event.objects.filter(pk=event.pk).update(
        status=case.status,
        requires_approval=case.approval,
        requires_answers=case.requires_answers,
    )
    return event


def state(event_id: int) -> tuple:
    """Rows, counters and outbox of the event: what a registration may change."""
    event = Event.objects.filter(pk=event_id).values("seats_taken", "waitlist_taken").first()
    rows = sorted(Attendee.objects.filter(event_id=event_id).values_list("email", "status"))
    outbox = sorted(
        OutgoingMessage.objects.filter(event_id=event_id).values_list("email", "kind", "seated")
    )
    return event, rows, outbox


@pytest.mark.parametrize("name", CASES)
def test_every_outcome_through_every_path(name, path, event_factory):
    case, expected, position = CASES[name]
    event = make_event(case, event_factory)
    event_id = 987_654_321 if case.unknown else event.pk
    before = state(event_id)

    # The pure decision agrees with the table.
    decided = decide_registration(
        None if case.unknown else Event.objects.get(pk=event.pk),
        now=timezone.now(),
        waitlist=case.waitlist,
        registered=lambda: (
            case.email.lower() in {e.lower() for e in case.seated + case.waiting + case.pending}
        ),
        answered=case.answers is not None,
    )
    assert decided == OFFERED.get(name, expected)

    if expected.error is not None:
        with pytest.raises(expected.error):
            services.register_attendee(
                event_id=event_id,
                name="Ada",
                email=case.email,
                waitlist=case.waitlist,
                answers=case.answers,
            )
        assert state(event_id) == before  # nothing written
        return

    registration = services.register_attendee(
        event_id=event_id,
        name="Ada",
        email=case.email,
        waitlist=case.waitlist,
        answers=case.answers,
    )
    assert (registration.outcome, registration.position) == (expected, position)
    attendee = registration.attendee
    assert attendee.pk is not None
    assert attendee.registered_at is not None
    assert attendee.status == expected.status
    seats, waiting = before[0]["seats_taken"], before[0]["waitlist_taken"]
    seated = expected is Outcome.SEAT
    waits = expected is Outcome.WAITING_PLACE
    assert state(event_id) == (
        {"seats_taken": seats + seated, "waitlist_taken": waiting + waits},
        sorted([*before[1], (case.email, expected.status.value)]),
        sorted([*before[2], (case.email, expected.message_kind.value, seated)]),
    )
    stored = Attendee.objects.get(pk=attendee.pk)
    assert stored.token_hash == attendee.token_hash
    assert stored.answers == (case.answers or {})


@pytest.mark.django_db(transaction=True)
def test_a_registration_that_cannot_get_the_lock_in_time_fails_and_writes_nothing(
    path, event_factory
):
    event = event_factory(max_capacity=5)
    before = state(event.pk)
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock():
        try:
            with transaction.atomic():
                list(Event.objects.select_for_update().filter(pk=event.pk))
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert locked.wait(10)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET lock_timeout = '200ms'")
            else:
                cursor.execute("PRAGMA busy_timeout = 200")
        # The API answers this error 503 (event_management_system/tests/test_database_faults.py).
        with pytest.raises(OperationalError):
            services.register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    finally:
        release.set()
        holder.join()
        connection.close()  # the timeout set above goes with it
    assert state(event.pk) == before
