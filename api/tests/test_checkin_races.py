"""Exactly once at the door, raced for real: threads, and gunicorn worker processes over HTTP,
on the test database (SQLite or PostgreSQL)."""

import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from api.tokens import issue_device_token
from core.exceptions import AlreadyCheckedIn
from core.models import CheckIn, CheckInConflict, CheckInScan, WebhookMessage
from core.services import (
    Admission,
    Caller,
    check_in_ticket,
    create_device,
    register_attendee,
    undo_check_in,
)
from core.tests.racing import race
from core.tickets import issue_ticket
from testing.servers import gunicorn, send_json

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]

GATES = 16


def seat_ticket(event) -> tuple[int, str]:
    place = register_attendee(event_id=event.pk, name="Ada", email=f"{uuid.uuid4().hex}@ex.com")
    registration_id = place.attendee.pk
    return registration_id, issue_ticket(event_id=event.pk, registration_id=registration_id)


def make_gates(event, count: int) -> list[tuple[int, str]]:
    """`count` door devices of the event: (id, bearer token) each."""
    gates = []
    for number in range(count):
        token, digest = issue_device_token()
        device = create_device(event_id=event.pk, name=f"Gate {number}", token_hash=digest)
        gates.append((device.pk, token))
    return gates


def verdict(result: object) -> str:
    if isinstance(result, Admission):
        return "admitted"
    if isinstance(result, AlreadyCheckedIn):
        return result.code
    return repr(result)


def test_sixteen_threads_scanning_one_ticket_admit_it_once(event_factory):
    event = event_factory()
    registration_id, ticket = seat_ticket(event)
    gates = make_gates(event, GATES)

    results = race(
        GATES,
        lambda i: check_in_ticket(
            event_id=event.pk,
            ticket=ticket,
            nonce=uuid.uuid4().hex,
            caller=Caller(device_id=gates[i][0], device_name=f"Gate {i}"),
        ),
    )

    assert Counter(map(verdict, results)) == {"admitted": 1, "already_checked_in": GATES - 1}
    (admission,) = [result for result in results if isinstance(result, Admission)]
    refusals = [result.first["id"] for result in results if isinstance(result, AlreadyCheckedIn)]
    assert set(refusals) == {admission.id}
    assert CheckIn.objects.get().registration_id == registration_id
    # One admission, one webhook message.
    (told,) = WebhookMessage.objects.filter(type="checkin.created")
    assert told.data["id"] == admission.id


def test_one_scan_retried_concurrently_with_its_nonce_admits_once_and_answers_alike(
    event_factory,
):
    event = event_factory()
    _, ticket = seat_ticket(event)
    ((device_id, _),) = make_gates(event, 1)
    caller = Caller(device_id=device_id, device_name="Gate 0")

    results = race(
        GATES,
        lambda i: check_in_ticket(event_id=event.pk, ticket=ticket, nonce="retry", caller=caller),
    )

    assert Counter(map(verdict, results)) == {"admitted": GATES}
    assert len({result.id for result in results}) == 1
    assert CheckIn.objects.count() == 1
    assert CheckInScan.objects.count() == 1
    assert WebhookMessage.objects.filter(type="checkin.created").count() == 1


def test_one_check_in_undone_from_many_gates_at_once_is_undone_and_told_once(event_factory):
    event = event_factory()
    _, ticket = seat_ticket(event)
    ((device_id, _),) = make_gates(event, 1)
    admission = check_in_ticket(
        event_id=event.pk, ticket=ticket, nonce="n", caller=Caller(device_id=device_id)
    )

    results = race(
        GATES, lambda i: undo_check_in(event_id=event.pk, checkin_id=admission.id) or "undone"
    )

    assert Counter(
        "undone" if result == "undone" else type(result).__name__ for result in results
    ) == {"undone": 1, "CheckInNotFound": GATES - 1}
    assert not CheckIn.objects.exists()
    (told,) = WebhookMessage.objects.filter(type="checkin.reverted")
    assert told.data["id"] == admission.id


@pytest.mark.race_control
def test_control_check_then_insert_is_fooled_and_only_the_constraint_stops_it(event_factory):
    """Documents the danger: every gate reads "not checked in yet" before any inserts. Only
    the unique constraint then keeps the ticket to one admission; without it, sixteen."""
    event = event_factory()
    registration_id, _ = seat_ticket(event)
    everyone_read = threading.Barrier(GATES)

    def naive_check_in(i: int) -> str:
        seen = CheckIn.objects.filter(registration_id=registration_id).exists()
        everyone_read.wait(timeout=30)
        if seen:
            return "saw it checked in"
        try:
            CheckIn.objects.create(
                event=event,
                registration_id=registration_id,
                name="Ada",
                checked_in_at=timezone.now(),
            )
        except IntegrityError:
            return "refused by the database"
        return "admitted"

    results = Counter(race(GATES, naive_check_in))

    assert results == {"admitted": 1, "refused by the database": GATES - 1}


@pytest.fixture
def server(transactional_db, settings):
    # The server signs and verifies with the tickets' secret this process issues them under.
    with gunicorn(workers=4, env={"DJANGO_TICKET_SECRET": settings.TICKET_SECRET}) as url:
        yield url


def test_sixteen_gates_over_http_give_one_201_and_fifteen_409s(server, event_factory):
    event = event_factory()
    registration_id, ticket = seat_ticket(event)
    gates = make_gates(event, GATES)
    url = f"{server}/api/events/{event.pk}/checkins/"

    results = race(
        GATES,
        lambda i: send_json(
            "POST",
            url,
            {"ticket": ticket, "nonce": uuid.uuid4().hex},
            headers={"Authorization": f"Bearer {gates[i][1]}"},
        ),
    )

    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: GATES - 1}, results
    ((_, admitted),) = [result for result in results if result[0] == 201]
    for status, body in results:
        if status == 409:
            assert body["code"] == "already_checked_in"
            assert body["first"]["id"] == admitted["id"]
    assert CheckIn.objects.get().registration_id == registration_id


def test_offline_batches_uploaded_at_once_keep_the_earliest_admission_and_every_conflict(
    server, event_factory
):
    event = event_factory(max_capacity=50)
    tickets = [seat_ticket(event) for _ in range(20)]
    gates = make_gates(event, 4)
    start = timezone.now() - timedelta(hours=1)

    def scanned_at(gate: int, ticket: int):
        # Each ticket's earliest scan is at a different gate.
        return start + timedelta(minutes=(gate + ticket) % 4, seconds=ticket)

    def upload(gate: int):
        scans = [
            {
                "ticket": ticket,
                "nonce": f"{gate}-{number}",
                "scanned_at": scanned_at(gate, number).isoformat(),
            }
            for number, (_, ticket) in enumerate(tickets)
        ]
        return post_json_as(
            f"{server}/api/events/{event.pk}/checkins/batch/", {"scans": scans}, gates[gate][1]
        )

    results = race(4, upload)

    assert [status for status, _ in results] == [200] * 4, results
    assert CheckIn.objects.count() == 20
    for number, (registration_id, _) in enumerate(tickets):
        checkin = CheckIn.objects.get(registration_id=registration_id)
        earliest_gate = min(range(4), key=lambda gate: scanned_at(gate, number))
        assert checkin.device_id == gates[earliest_gate][0]
        assert checkin.checked_in_at == scanned_at(earliest_gate, number)
    # Four admissions of each ticket: one check-in, three conflicts.
    assert CheckInConflict.objects.count() == 20 * 3
    # A webhook message per admission; of a check-in's, the last tells it as it stands.
    admitted = sum(
        result["outcome"] == "admitted" for _, body in results for result in body["results"]
    )
    told = WebhookMessage.objects.filter(type="checkin.created").order_by("id")
    assert told.count() == admitted
    last = {message.data["registration"]: message.data for message in told}
    for checkin in CheckIn.objects.select_related("device"):
        assert (last[checkin.registration_id]["id"], last[checkin.registration_id]["device"]) == (
            checkin.pk,
            {"id": checkin.device_id, "name": checkin.device.name},
        )
    # The same uploads again: nothing new.
    again = race(4, upload)
    assert [body for _, body in again] == [body for _, body in results]
    assert CheckInConflict.objects.count() == 20 * 3
    assert told.count() == admitted


def post_json_as(url: str, body: dict, token: str):
    return send_json("POST", url, body, headers={"Authorization": f"Bearer {token}"})
