"""On PostgreSQL a check-in is one statement (core/sql/checkin.py): it answers every case as the
Python path does (core.checkin._check_in_in_python), in one statement that commits itself."""

from datetime import UTC

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import checkin, webhooks
from core.models import AttendeeStatus, CheckIn, CheckInScan, EventStatus, WebhookMessage
from core.services import Caller, create_device, register_attendee
from core.tickets import issue_ticket, ticket_fingerprint

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the statement is PostgreSQL's"),
]

PATHS = {"python": checkin._check_in_in_python, "sql": checkin._check_in_in_sql}


def scene(event_factory, case: str):
    """An event, a registration in the state `case` names, and a gate: a scan's request."""
    event = event_factory(max_capacity=1)
    device = create_device(event_id=event.pk, name="Gate A", token_hash=f"hash-{event.pk}")
    caller = Caller(device_id=device.pk, device_name=device.name)
    place = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com").attendee
    registration_id = place.pk
    if case == "waiting":
        type(place).objects.filter(pk=place.pk).update(status=AttendeeStatus.WAITLISTED)
    elif case == "cancelled event":
        type(event).objects.filter(pk=event.pk).update(status=EventStatus.CANCELLED)
    elif case == "withdrawn":
        place.delete()
    elif case == "admitted before":
        CheckIn.objects.create(
            event=event,
            registration_id=registration_id,
            name="Ada",
            device=device,
            checked_in_at=timezone.now(),
        )
    ticket = issue_ticket(event_id=event.pk, registration_id=registration_id)
    return checkin.ScanRequest(
        event_id=event.pk,
        registration_id=registration_id,
        caller=caller,
        nonce="n-1",
        ticket_hash=ticket_fingerprint(ticket),
        at=timezone.now(),
    )


def comparable(verdict: str, admission: dict | None, scan) -> tuple:
    """The answer with the ids this scene made replaced by names, so two scenes compare."""
    if admission is None:
        return verdict, None
    device = admission["device"]
    return verdict, {
        **admission,
        "id": "the check-in",
        "registration": admission["registration"] == scan.registration_id,
        "checked_in_at": "set",
        "device": device and (device["id"] == scan.caller.device_id, device["name"]),
    }


@pytest.mark.parametrize(
    "case", ["seat", "waiting", "cancelled event", "withdrawn", "admitted before"]
)
def test_both_paths_answer_alike(event_factory, case):
    answers = {}
    for name, path in PATHS.items():
        scan = scene(event_factory, case)
        first = comparable(*path(scan), scan)
        again = comparable(*path(scan), scan)
        other = comparable(
            *path(checkin.ScanRequest(**{**scan.__dict__, "ticket_hash": "x"})), scan
        )
        answers[name] = (first, again, other, CheckInScan.objects.filter(nonce="n-1").count())
        CheckInScan.objects.all().delete()

    assert answers["sql"] == answers["python"]
    first, again, other, _ = answers["sql"]
    assert again == first
    assert other == ("nonce_reused", None)


@pytest.mark.parametrize("microsecond", [0, 123456])
@pytest.mark.parametrize("name", list(PATHS))
def test_both_paths_write_the_same_webhook_message(event_factory, name, microsecond):
    scan = scene(event_factory, "seat")
    scan = checkin.ScanRequest(**{**scan.__dict__, "at": scan.at.replace(microsecond=microsecond)})

    PATHS[name](scan)
    PATHS[name](scan)  # the nonce replayed: nothing more

    (message,) = WebhookMessage.objects.filter(event_id=scan.event_id)
    row = CheckIn.objects.get(registration_id=scan.registration_id)
    assert (message.type, message.occurred_at, message.fanned_out) == (
        "checkin.created",
        scan.at,
        False,
    )
    assert message.uid.startswith("msg_")
    # What core.webhooks.checkin_data makes of the row, to the character.
    assert message.data == webhooks.checkin_data(row, device=scan.caller.device)
    assert message.data["checked_in_at"] == scan.at.astimezone(UTC).isoformat().replace(
        "+00:00", "Z"
    )


@pytest.mark.django_db(transaction=True)
def test_a_scan_is_one_statement_that_commits_itself(event_factory):
    scan = scene(event_factory, "seat")

    with CaptureQueriesContext(connection) as queries:
        checkin.check_in_ticket(
            event_id=scan.event_id,
            ticket=issue_ticket(event_id=scan.event_id, registration_id=scan.registration_id),
            nonce="one",
            caller=scan.caller,
        )

    (statement,) = [query["sql"] for query in queries.captured_queries]
    assert "core_check_in(" in statement
    # No transaction around it: its own commit made the check-in visible to another connection.
    with connections.create_connection("default").cursor() as other:
        other.execute(
            "SELECT registration_id FROM core_checkin WHERE event_id = %s", [scan.event_id]
        )
        assert other.fetchall() == [(scan.registration_id,)]
