"""Check-in over HTTP: devices, tickets, scanning online, offline batches, undo, conflicts."""

import base64
import uuid
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.crypto import hash_token
from rest_framework.test import APIClient

from api.datetimes import NAIVE_DATETIME_MESSAGE
from core.models import CheckIn, CheckInConflict, CheckInScan, Device, RevokedTicket
from core.tickets import issue_ticket
from event_management_system.ops.metrics import CHECKIN_OUTCOMES
from event_management_system.ops.tests.scraping import scrape, value

pytestmark = pytest.mark.django_db


def nonce() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def event(event_factory, owner):
    return event_factory(owner=owner, max_capacity=3)


@pytest.fixture
def gate(make_device, event):
    return make_device(event)[0]


def register(event, email, waitlist=False) -> dict:
    response = APIClient().post(
        f"/api/events/{event.pk}/register/",
        {"name": email.split("@")[0].title(), "email": email, "waitlist": waitlist},
        format="json",
    )
    assert response.status_code in (201, 202), response.json()
    return response.json()


def scan(client, event, ticket, scan_nonce=None):
    return client.post(
        f"/api/events/{event.pk}/checkins/",
        {"ticket": ticket, "nonce": scan_nonce or nonce()},
        format="json",
    )


# Devices


def test_the_owner_creates_a_device_whose_token_is_shown_once_and_stored_hashed(
    owner_client, event
):
    response = owner_client.post(
        f"/api/events/{event.pk}/devices/", {"name": "Gate A"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "token"}
    assert body["name"] == "Gate A"
    device = Device.objects.get(pk=body["id"])
    assert device.token_hash == hash_token(body["token"])
    assert body["token"] not in device.token_hash
    listed = owner_client.get(f"/api/events/{event.pk}/devices/").json()
    assert listed["count"] == 1
    assert [d["id"] for d in listed["results"]] == [body["id"]]
    assert "token" not in listed["results"][0]


def test_only_the_owner_or_staff_create_devices(
    event, organiser_factory, staff_factory, token_client, gate
):
    url = f"/api/events/{event.pk}/devices/"
    body = {"name": "X"}
    assert APIClient().post(url, body, format="json").status_code == 401
    other = token_client(organiser_factory()).post(url, body, format="json")
    assert (other.status_code, other.json()["code"]) == (403, "permission_denied")
    assert gate.post(url, body, format="json").status_code == 403
    assert token_client(staff_factory()).post(url, body, format="json").status_code == 201


def test_a_revoked_device_token_works_no_more(owner_client, make_device, event):
    client, device_id = make_device(event)
    ticket = register(event, "ada@example.com")["ticket"]

    response = owner_client.delete(f"/api/events/{event.pk}/devices/{device_id}/")

    assert response.status_code == 204
    refused = scan(client, event, ticket)
    assert (refused.status_code, refused.json()["code"]) == (401, "authentication_failed")
    again = owner_client.delete(f"/api/events/{event.pk}/devices/{device_id}/")
    assert (again.status_code, again.json()["code"]) == (404, "not_found")


def test_a_device_expires_after_its_event(event_factory, owner, make_device):
    event = event_factory(owner=owner)
    client, _ = make_device(event)
    ticket = register(event, "ada@example.com")["ticket"]
    event.start_time = timezone.now() - timedelta(days=2)
    event.end_time = timezone.now() - timedelta(hours=13)
    event.save(update_fields=["start_time", "end_time"])

    assert scan(client, event, ticket).status_code == 401


def test_a_device_checks_in_at_its_event_only_and_never_reads_emails(
    event, event_factory, owner, make_device, gate, settings
):
    settings.API_OPEN_ACCESS = False
    other_event = event_factory(owner=owner)
    ticket = register(other_event, "ada@example.com")["ticket"]
    base = f"/api/events/{other_event.pk}"

    for response in (
        gate.post(f"{base}/checkins/", {"ticket": ticket, "nonce": nonce()}, format="json"),
        gate.get(f"{base}/checkin/key/"),
        gate.get(f"{base}/checkin/revoked/"),
        gate.get(f"{base}/checkins/stats/"),
        gate.get(f"{base}/attendees/"),
        gate.get(f"/api/events/{event.pk}/attendees/"),
        gate.get(f"/api/events/{event.pk}/waitlist/"),
        gate.get(f"/api/events/{event.pk}/devices/"),
        gate.get("/api/me/events/"),
        gate.post("/api/events/", {"name": "Mine"}, format="json"),
        gate.patch(f"/api/events/{event.pk}/", {"name": "Mine"}, format="json"),
        gate.post(f"/api/events/{event.pk}/cancel/"),
        # Signing out is a person's: it neither revokes nor deletes the device.
        gate.delete("/api/auth/token/"),
    ):
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert not CheckIn.objects.exists()
    assert gate.get(f"/api/events/{event.pk}/checkin/key/").status_code == 200


# Tickets


def test_a_seat_carries_a_ticket_the_events_public_key_verifies(event, gate):
    seat = register(event, "ada@example.com")

    key = gate.get(f"/api/events/{event.pk}/checkin/key/").json()

    raw = base64.urlsafe_b64decode(key["public_key"] + "=")
    ticket = base64.urlsafe_b64decode(seat["ticket"])
    Ed25519PublicKey.from_public_bytes(raw).verify(ticket[17:], ticket[:17])
    assert int.from_bytes(ticket[1:9]) == event.pk
    assert int.from_bytes(ticket[9:17]) == seat["id"]
    assert set(key) == {"event", "algorithm", "public_key", "public_key_pem", "ticket_format"}
    read = APIClient().get(f"/api/registrations/{seat['token']}/").json()
    assert read["ticket"] == seat["ticket"]


def test_a_waiting_place_has_no_ticket_until_promoted(event, deliver_emails):
    seats = [register(event, f"s{i}@example.com") for i in range(3)]
    waiting = register(event, "wait@example.com", waitlist=True)

    assert waiting["ticket"] is None
    image = APIClient().get(f"/api/registrations/{waiting['token']}/ticket.svg")
    assert (image.status_code, image.json()["code"]) == (409, "no_ticket")

    APIClient().delete(f"/api/registrations/{seats[0]['token']}/")
    promoted = APIClient().get(f"/api/registrations/{waiting['token']}/").json()
    assert promoted["ticket"] == issue_ticket(event_id=event.pk, registration_id=waiting["id"])


def test_the_ticket_is_served_as_a_qr_code_in_svg_and_png(event):
    seat = register(event, "ada@example.com")

    svg = APIClient().get(f"/api/registrations/{seat['token']}/ticket.svg")
    png = APIClient().get(f"/api/registrations/{seat['token']}/ticket.png")

    assert (svg.status_code, svg["Content-Type"]) == (200, "image/svg+xml")
    assert b"<svg" in svg.content
    assert (png.status_code, png["Content-Type"]) == (200, "image/png")
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert svg["Cache-Control"] == "no-store"
    assert APIClient().get("/api/registrations/unknown/ticket.png").status_code == 404


# Checking in


def test_the_first_scan_admits_and_a_second_tells_when_and_where(event, gate):
    seat = register(event, "ada@example.com")

    first = scan(gate, event, seat["ticket"])
    second = scan(gate, event, seat["ticket"])

    assert first.status_code == 201
    body = first.json()
    assert set(body) == {"id", "registration", "name", "checked_in_at", "device"}
    assert (body["registration"], body["name"]) == (seat["id"], "Ada")
    assert body["device"]["name"] == "Gate A"
    assert second.status_code == 409
    refusal = second.json()
    assert refusal["code"] == "already_checked_in"
    assert refusal["first"] == body
    assert CheckIn.objects.count() == 1


def test_the_owner_and_staff_check_in_too(event, owner_client, staff_factory, token_client):
    ada = register(event, "ada@example.com")
    grace = register(event, "grace@example.com")

    by_owner = scan(owner_client, event, ada["ticket"])
    by_staff = scan(token_client(staff_factory()), event, grace["ticket"])

    assert (by_owner.status_code, by_owner.json()["device"]) == (201, None)
    assert by_staff.status_code == 201


def test_the_same_nonce_replays_the_first_answer(event, gate, make_device):
    seat = register(event, "ada@example.com")
    retry = nonce()

    first = scan(gate, event, seat["ticket"], retry)
    again = scan(gate, event, seat["ticket"], retry)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert CheckIn.objects.count() == 1
    other_ticket = register(event, "grace@example.com")["ticket"]
    reused = scan(gate, event, other_ticket, retry)
    assert (reused.status_code, reused.json()["code"]) == (409, "nonce_reused")
    # A nonce is its device's own: another gate's same nonce is a scan of its own.
    other_gate, _ = make_device(event, "Gate B")
    assert scan(other_gate, event, seat["ticket"], retry).json()["code"] == "already_checked_in"


def test_a_refused_scan_replays_its_refusal(event, gate, owner_client):
    seat = register(event, "ada@example.com")
    scan(owner_client, event, seat["ticket"])
    retry = nonce()

    first = scan(gate, event, seat["ticket"], retry)
    checkin_id = first.json()["first"]["id"]
    owner_client.delete(f"/api/events/{event.pk}/checkins/{checkin_id}/")
    again = scan(gate, event, seat["ticket"], retry)

    assert (again.status_code, again.json()) == (409, first.json())


def tampered(ticket: str) -> str:
    flipped = "A" if ticket[50] != "A" else "B"
    return ticket[:50] + flipped + ticket[51:]


def forged(event_id: int, registration_id: int) -> str:
    payload = bytes([1]) + event_id.to_bytes(8) + registration_id.to_bytes(8)
    signature = Ed25519PrivateKey.generate().sign(payload)
    return base64.urlsafe_b64encode(payload + signature).decode()


@pytest.mark.parametrize("kind", ["tampered", "forged", "garbage", "empty-ish", "not a string"])
def test_an_invalid_ticket_is_refused_before_any_database_work(event, gate, kind):
    seat = register(event, "ada@example.com")
    ticket = {
        "tampered": tampered(seat["ticket"]),
        "forged": forged(event.pk, seat["id"]),
        "garbage": "hello" * 30,
        "empty-ish": "x",
        "not a string": 12345,
    }[kind]

    with CaptureQueriesContext(connection) as queries:
        response = scan(gate, event, ticket)

    assert (response.status_code, response.json()["code"]) == (400, "invalid_ticket")
    # The device's token, looked up by its hash: nothing else.
    (lookup,) = [query["sql"] for query in queries.captured_queries]
    assert "core_device" in lookup
    assert not CheckIn.objects.exists()
    assert not CheckInScan.objects.exists()


def test_a_ticket_of_another_event_is_refused_without_database_work(event_factory, event, gate):
    other = event_factory()
    ticket = register(other, "ada@example.com")["ticket"]

    with CaptureQueriesContext(connection) as queries:
        response = scan(gate, event, ticket)

    assert (response.status_code, response.json()["code"]) == (409, "wrong_event")
    assert len(queries.captured_queries) == 1
    assert not CheckIn.objects.exists()


def test_waiting_cancelled_and_removed_tickets_do_not_admit(event, gate, owner_client):
    seats = [register(event, f"s{i}@example.com") for i in range(3)]
    waiting = register(event, "wait@example.com", waitlist=True)
    # A genuine ticket for the waiting place, as if leaked before it had any.
    waiting_ticket = issue_ticket(event_id=event.pk, registration_id=waiting["id"])
    assert scan(gate, event, waiting_ticket).json()["code"] == "not_admitted"

    APIClient().delete(f"/api/registrations/{seats[0]['token']}/")
    owner_client.delete(f"/api/events/{event.pk}/attendees/{seats[1]['id']}/")

    for ticket in (seats[0]["ticket"], seats[1]["ticket"]):
        response = scan(gate, event, ticket)
        assert (response.status_code, response.json()["code"]) == (409, "not_admitted")
    assert scan(gate, event, seats[2]["ticket"]).status_code == 201
    assert not CheckIn.objects.exclude(registration_id=seats[2]["id"]).exists()


def test_a_cancelled_event_admits_nobody_and_withdraws_every_ticket(event, gate, owner_client):
    seats = [register(event, f"s{i}@example.com") for i in range(2)]

    owner_client.post(f"/api/events/{event.pk}/cancel/")

    response = scan(gate, event, seats[0]["ticket"])
    assert (response.status_code, response.json()["code"]) == (409, "not_admitted")
    revoked = gate.get(f"/api/events/{event.pk}/checkin/revoked/").json()["revoked"]
    assert {(r["ticket"], r["reason"]) for r in revoked} == {
        (seat["ticket"], "event_cancelled") for seat in seats
    }


def test_the_revoked_list_names_tickets_withdrawn_since_a_time(event, gate, owner_client):
    seats = [register(event, f"s{i}@example.com") for i in range(3)]
    APIClient().delete(f"/api/registrations/{seats[0]['token']}/")
    first = gate.get(f"/api/events/{event.pk}/checkin/revoked/").json()
    RevokedTicket.objects.update(revoked_at=timezone.now() - timedelta(hours=1))
    owner_client.delete(f"/api/events/{event.pk}/attendees/{seats[1]['id']}/")

    later = gate.get(
        f"/api/events/{event.pk}/checkin/revoked/", {"since": first["next_since"]}
    ).json()

    assert [(r["registration"], r["reason"]) for r in first["revoked"]] == [
        (seats[0]["id"], "cancelled")
    ]
    assert [(r["ticket"], r["reason"]) for r in later["revoked"]] == [
        (seats[1]["ticket"], "removed")
    ]
    bad = gate.get(f"/api/events/{event.pk}/checkin/revoked/", {"since": "yesterday"})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid")


def test_undoing_a_check_in_lets_the_ticket_in_again(event, gate):
    seat = register(event, "ada@example.com")
    admitted = scan(gate, event, seat["ticket"]).json()

    undone = gate.delete(f"/api/events/{event.pk}/checkins/{admitted['id']}/")

    assert undone.status_code == 204
    assert scan(gate, event, seat["ticket"]).status_code == 201
    missing = gate.delete(f"/api/events/{event.pk}/checkins/{admitted['id']}/")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


def test_a_check_in_of_another_event_cannot_be_undone_from_this_one(
    event, event_factory, owner, make_device, gate
):
    other = event_factory(owner=owner)
    other_gate, _ = make_device(other)
    admitted = scan(other_gate, other, register(other, "ada@example.com")["ticket"]).json()

    response = gate.delete(f"/api/events/{event.pk}/checkins/{admitted['id']}/")

    assert response.status_code == 404
    assert CheckIn.objects.filter(pk=admitted["id"]).exists()


# Offline batches


def upload(client, event, scans):
    return client.post(f"/api/events/{event.pk}/checkins/batch/", {"scans": scans}, format="json")


def offline(ticket, at, scan_nonce=None):
    return {"ticket": ticket, "nonce": scan_nonce or nonce(), "scanned_at": at.isoformat()}


def test_an_offline_batch_answers_each_scan_in_order(event, event_factory, gate):
    seats = [register(event, f"s{i}@example.com") for i in range(2)]
    foreign = register(event_factory(), "x@example.com")["ticket"]
    now = timezone.now()
    scans = [
        offline(seats[0]["ticket"], now - timedelta(minutes=5)),
        offline("not-a-ticket", now),
        offline(foreign, now),
        offline(seats[1]["ticket"], now - timedelta(minutes=4)),
        offline(seats[0]["ticket"], now - timedelta(minutes=3)),
    ]

    response = upload(gate, event, scans)

    assert response.status_code == 200
    assert response.json()["results"] == [
        {"nonce": scans[0]["nonce"], "outcome": "admitted"},
        {"nonce": scans[1]["nonce"], "outcome": "invalid_ticket"},
        {"nonce": scans[2]["nonce"], "outcome": "wrong_event"},
        {"nonce": scans[3]["nonce"], "outcome": "admitted"},
        {"nonce": scans[4]["nonce"], "outcome": "already_checked_in"},
    ]
    first = CheckIn.objects.get(registration_id=seats[0]["id"])
    assert first.checked_in_at.replace(microsecond=0) == (now - timedelta(minutes=5)).replace(
        microsecond=0
    )
    assert first.offline
    # Uploaded again (the answer was lost): the same outcomes, nothing recorded twice.
    assert upload(gate, event, scans).json() == response.json()
    assert CheckIn.objects.count() == 2
    assert CheckInConflict.objects.count() == 1


def test_two_offline_gates_admitting_one_ticket_leave_a_conflict(event, make_device):
    gate_a, gate_a_id = make_device(event, "Gate A")
    gate_b, gate_b_id = make_device(event, "Gate B")
    ticket = register(event, "ada@example.com")["ticket"]
    now = timezone.now()

    # Gate B comes back online first, with the later scan.
    late = upload(gate_b, event, [offline(ticket, now - timedelta(minutes=1))])
    early = upload(gate_a, event, [offline(ticket, now - timedelta(minutes=9))])

    assert late.json()["results"][0]["outcome"] == "admitted"
    assert early.json()["results"][0]["outcome"] == "admitted"
    checkin = CheckIn.objects.get()
    assert checkin.device_id == gate_a_id
    conflicts = gate_a.get(f"/api/events/{event.pk}/checkins/conflicts/").json()
    assert conflicts["count"] == 1
    (conflict,) = conflicts["results"]
    assert conflict["ticket"] == ticket
    assert (conflict["first"]["device"]["name"], conflict["again"]["device"]["name"]) == (
        "Gate A",
        "Gate B",
    )
    assert conflict["first"]["at"] < conflict["again"]["at"]


def test_an_offline_scan_after_an_online_check_in_is_a_conflict(event, gate, make_device):
    ticket = register(event, "ada@example.com")["ticket"]
    online = scan(gate, event, ticket).json()
    offline_gate, _ = make_device(event, "Gate B")

    result = upload(offline_gate, event, [offline(ticket, timezone.now())]).json()

    assert result["results"][0]["outcome"] == "already_checked_in"
    assert CheckIn.objects.get().pk == online["id"]
    (conflict,) = gate.get(f"/api/events/{event.pk}/checkins/conflicts/").json()["results"]
    assert (conflict["first"]["device"]["name"], conflict["again"]["device"]["name"]) == (
        "Gate A",
        "Gate B",
    )


def test_a_batch_holds_at_most_500_scans_and_each_must_be_well_formed(event, gate):
    ticket = register(event, "ada@example.com")["ticket"]
    now = timezone.now()

    too_many = upload(gate, event, [offline(ticket, now) for _ in range(501)])
    naive = upload(gate, event, [{"ticket": ticket, "nonce": "n", "scanned_at": "2030-01-01"}])

    assert (too_many.status_code, too_many.json()["code"]) == (400, "invalid")
    assert (naive.status_code, naive.json()["code"]) == (400, "invalid")
    assert naive.json()["errors"] == {"scans": [f"[0].scanned_at: {NAIVE_DATETIME_MESSAGE}"]}
    assert upload(gate, event, [offline(ticket, now) for _ in range(500)]).status_code == 200
    assert not CheckIn.objects.exclude(offline=True).exists()


# Watching


def test_stats_count_arrivals_per_bucket(event, gate, owner_client):
    seats = [register(event, f"s{i}@example.com") for i in range(3)]
    start = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    upload(
        gate,
        event,
        [
            offline(seats[0]["ticket"], start + timedelta(minutes=1)),
            offline(seats[1]["ticket"], start + timedelta(minutes=12)),
        ],
    )

    stats = owner_client.get(f"/api/events/{event.pk}/checkins/stats/", {"bucket": "5m"}).json()

    assert stats["checked_in_count"] == 2
    assert (stats["seats_taken"], stats["not_yet_arrived"]) == (3, 1)
    assert [bucket["count"] for bucket in stats["arrivals"]] == [1, 0, 1]
    bad = owner_client.get(f"/api/events/{event.pk}/checkins/stats/", {"bucket": "7d"})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid")


def test_the_conflict_list_costs_the_same_queries_for_1_or_20(
    event_factory, owner, make_device, django_assert_num_queries, owner_client
):
    def conflicts_query_count(count: int) -> int:
        event = event_factory(owner=owner, max_capacity=count)
        gate_a, _ = make_device(event, "A")
        gate_b, _ = make_device(event, "B")
        tickets = [register(event, f"p{i}@example.com")["ticket"] for i in range(count)]
        now = timezone.now()
        upload(gate_a, event, [offline(t, now) for t in tickets])
        upload(gate_b, event, [offline(t, now) for t in tickets])
        with CaptureQueriesContext(connection) as queries:
            page = owner_client.get(f"/api/events/{event.pk}/checkins/conflicts/").json()
            assert (page["count"], len(page["results"])) == (count, count)
        return len(queries.captured_queries)

    assert conflicts_query_count(1) == conflicts_query_count(20)


def test_the_event_shows_its_checked_in_count_to_its_door_only(
    event,
    gate,
    owner_client,
    staff_factory,
    token_client,
    organiser_factory,
    make_device,
    event_factory,
    owner,
):
    seat = register(event, "ada@example.com")
    scan(gate, event, seat["ticket"])
    url = f"/api/events/{event.pk}/"

    for client in (owner_client, token_client(staff_factory()), gate):
        assert client.get(url).json()["checked_in_count"] == 1
    for client in (APIClient(), token_client(organiser_factory())):
        assert "checked_in_count" not in client.get(url).json()
    other_event = event_factory(owner=owner)
    other_gate, _ = make_device(other_event)
    assert "checked_in_count" not in other_gate.get(url).json()


def test_scans_are_counted_by_outcome_in_the_metrics(client, event, gate):
    seat = register(event, "ada@example.com")

    def counts() -> dict[str, float]:
        text = scrape(client)
        return {o: value(text, "events_checkins_total", outcome=o) for o in CHECKIN_OUTCOMES}

    before = counts()
    scan(gate, event, seat["ticket"])
    scan(gate, event, seat["ticket"])
    scan(gate, event, "forged")
    upload(gate, event, [offline(seat["ticket"], timezone.now()), offline("x", timezone.now())])
    after = counts()

    assert {o: after[o] - before[o] for o in CHECKIN_OUTCOMES} == {
        "admitted": 1,
        "already_checked_in": 2,
        "not_admitted": 0,
        "wrong_event": 0,
        "invalid_ticket": 2,
    }


def test_a_batch_reusing_a_nonce_for_another_ticket_records_nothing(event, gate):
    ada = register(event, "ada@example.com")["ticket"]
    grace = register(event, "grace@example.com")["ticket"]
    now = timezone.now()
    upload(gate, event, [offline(ada, now, "n-1")])

    response = upload(gate, event, [offline(grace, now, "n-2"), offline(grace, now, "n-1")])

    assert (response.status_code, response.json()["code"]) == (409, "nonce_reused")
    assert list(CheckIn.objects.values_list("name", flat=True)) == ["Ada"]
    assert not CheckInScan.objects.filter(nonce="n-2").exists()
