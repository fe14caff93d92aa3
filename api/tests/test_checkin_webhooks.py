"""Check-in's webhooks over HTTP: an endpoint subscribed to `checkin.created` and
`checkin.reverted` is told of every admission (online or uploaded from offline) and every
undoing, signed, with the check-in as the owner's API shows it, and of nothing else."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import WebhookEndpoint, WebhookEventType, WebhookMessage

pytestmark = pytest.mark.django_db

CHECKIN_TYPES = ["checkin.created", "checkin.reverted"]


def nonce() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def event(event_factory, owner):
    return event_factory(owner=owner, max_capacity=3)


@pytest.fixture
def endpoint(owner_client, receiver):
    """The owner's endpoint at the receiver, registered over HTTP for check-ins only."""
    response = owner_client.post(
        "/api/webhooks/", {"url": receiver.url, "events": CHECKIN_TYPES}, format="json"
    )
    assert response.status_code == 201, response.json()
    receiver.secrets = [response.json()["secret"]]
    return response.json()


@pytest.fixture
def gate(make_device, event):
    return make_device(event)[0]


def register(event, email) -> dict:
    response = APIClient().post(
        f"/api/events/{event.pk}/register/",
        {"name": email.split("@")[0].title(), "email": email},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def scan(client, event, ticket, scan_nonce=None):
    return client.post(
        f"/api/events/{event.pk}/checkins/",
        {"ticket": ticket, "nonce": scan_nonce or nonce()},
        format="json",
    )


def upload(client, event, scans):
    return client.post(f"/api/events/{event.pk}/checkins/batch/", {"scans": scans}, format="json")


def offline(ticket, at, scan_nonce=None):
    return {"ticket": ticket, "nonce": scan_nonce or nonce(), "scanned_at": at.isoformat()}


def utc(moment) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parsed(text: str) -> datetime:
    return datetime.fromisoformat(text)


def told(receiver) -> list[tuple[str, dict]]:
    return [(r.payload["type"], r.payload["data"]) for r in receiver.accepted]


def checkin_messages() -> int:
    return WebhookMessage.objects.filter(type__startswith="checkin.").count()


def test_the_schema_offers_the_check_in_types(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    enum = schema["components"]["schemas"]["EventsEnum"]["enum"]
    assert enum == list(WebhookEventType.values)
    assert set(CHECKIN_TYPES) <= set(enum)


def test_a_check_in_and_its_undoing_arrive_signed_as_the_owners_api_shows_them(
    event, gate, endpoint, receiver, deliver_webhooks
):
    seat = register(event, "ada@example.com")
    admitted = scan(gate, event, seat["ticket"])
    assert admitted.status_code == 201
    deliver_webhooks()

    undone = gate.delete(f"/api/events/{event.pk}/checkins/{admitted.json()['id']}/")
    assert undone.status_code == 204
    deliver_webhooks()

    assert receiver.unverified == []
    shown = {**admitted.json(), "event": event.pk, "offline": False}
    # The registration's own webhook is not one this endpoint subscribed to.
    assert told(receiver) == [("checkin.created", shown), ("checkin.reverted", shown)]
    assert shown["checked_in_at"].endswith("Z")
    assert shown["device"]["name"] == "Gate A"
    created, reverted = receiver.accepted
    assert set(created.payload) == {"type", "timestamp", "data"}
    assert created.webhook_id != reverted.webhook_id
    assert created.payload["timestamp"] == shown["checked_in_at"]
    assert parsed(reverted.payload["timestamp"]) >= parsed(created.payload["timestamp"])


def test_a_check_in_by_the_owner_names_no_device(
    event, owner_client, endpoint, receiver, deliver_webhooks
):
    seat = register(event, "ada@example.com")
    admitted = scan(owner_client, event, seat["ticket"]).json()
    deliver_webhooks()
    assert told(receiver) == [
        ("checkin.created", {**admitted, "event": event.pk, "offline": False})
    ]
    assert admitted["device"] is None


def test_refusals_replays_and_a_missing_undo_tell_nothing(
    event, event_factory, gate, owner_client, endpoint, receiver, deliver_webhooks
):
    seat = register(event, "ada@example.com")
    removed = register(event, "b@example.com")
    owner_client.delete(f"/api/events/{event.pk}/attendees/{removed['id']}/")
    retry = nonce()
    assert scan(gate, event, seat["ticket"], retry).status_code == 201
    assert checkin_messages() == 1

    assert scan(gate, event, seat["ticket"], retry).status_code == 201  # the nonce replayed
    assert scan(gate, event, seat["ticket"]).json()["code"] == "already_checked_in"
    assert scan(gate, event, removed["ticket"]).json()["code"] == "not_admitted"
    assert scan(gate, event, "not-a-ticket").json()["code"] == "invalid_ticket"
    foreign = register(event_factory(), "x@example.com")["ticket"]
    assert scan(gate, event, foreign).json()["code"] == "wrong_event"
    assert gate.delete(f"/api/events/{event.pk}/checkins/999999/").status_code == 404

    assert checkin_messages() == 1
    deliver_webhooks()
    assert [kind for kind, _ in told(receiver)] == ["checkin.created"]


def test_an_offline_batch_tells_each_admission_and_no_conflict_in_one_insert(
    event, gate, endpoint, receiver, deliver_webhooks
):
    ada, grace = register(event, "ada@example.com"), register(event, "grace@example.com")
    now = timezone.now().replace(microsecond=0)
    scans = [
        offline(ada["ticket"], now - timedelta(minutes=5)),
        offline(grace["ticket"], now - timedelta(minutes=4)),
        offline(ada["ticket"], now - timedelta(minutes=3)),  # let in twice: a conflict
        offline("not-a-ticket", now),
    ]

    with CaptureQueriesContext(connection) as queries:
        response = upload(gate, event, scans)

    outcomes = [result["outcome"] for result in response.json()["results"]]
    assert outcomes == ["admitted", "admitted", "already_checked_in", "invalid_ticket"]
    inserts = [q["sql"] for q in queries.captured_queries if "INSERT INTO" in q["sql"]]
    assert len([sql for sql in inserts if '"core_webhookmessage"' in sql]) == 1
    # Uploaded again (the answer lost): the same outcomes, nothing told twice.
    assert upload(gate, event, scans).json() == response.json()
    deliver_webhooks()

    assert receiver.unverified == []
    by_registration = {data["registration"]: data for _, data in told(receiver)}
    assert [kind for kind, _ in told(receiver)] == ["checkin.created"] * 2
    assert set(by_registration) == {ada["id"], grace["id"]}
    told_ada = by_registration[ada["id"]]
    assert told_ada == {
        "id": told_ada["id"],
        "event": event.pk,
        "registration": ada["id"],
        "name": "Ada",
        "checked_in_at": utc(now - timedelta(minutes=5)),
        "device": {"id": told_ada["device"]["id"], "name": "Gate A"},
        "offline": True,
    }
    # Timestamped with the upload; the scan's time is the check-in's.
    assert all(parsed(r.payload["timestamp"]) >= now for r in receiver.accepted)


def test_an_earlier_offline_scan_taking_a_check_ins_place_tells_it_again(
    event, gate, make_device, endpoint, receiver, deliver_webhooks
):
    ticket = register(event, "ada@example.com")["ticket"]
    online = scan(gate, event, ticket).json()
    earlier = timezone.now().replace(microsecond=0) - timedelta(minutes=10)

    result = upload(make_device(event, "Gate B")[0], event, [offline(ticket, earlier)]).json()
    deliver_webhooks()

    assert result["results"][0]["outcome"] == "admitted"
    (_, first), (_, moved) = told(receiver)
    assert moved["id"] == first["id"] == online["id"]
    assert (moved["checked_in_at"], moved["device"]["name"], moved["offline"]) == (
        utc(earlier),
        "Gate B",
        True,
    )


@pytest.mark.parametrize("endpoints", [0, 25])
def test_a_scan_an_upload_and_an_undo_cost_the_same_whatever_the_number_of_endpoints(
    event, gate, owner, endpoints, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    WebhookEndpoint.objects.bulk_create(
        WebhookEndpoint(
            owner=owner, url=f"https://10.0.0.{n}/", event_types=CHECKIN_TYPES, secret="whsec_x"
        )
        for n in range(endpoints)
    )
    ada, grace = register(event, "ada@example.com"), register(event, "grace@example.com")
    costs = []
    with CaptureQueriesContext(connection) as queries:
        admitted = scan(gate, event, ada["ticket"]).json()
    costs.append(len(queries))
    with CaptureQueriesContext(connection) as queries:
        upload(gate, event, [offline(grace["ticket"], timezone.now())])
    costs.append(len(queries))
    with CaptureQueriesContext(connection) as queries:
        gate.delete(f"/api/events/{event.pk}/checkins/{admitted['id']}/")
    costs.append(len(queries))

    assert checkin_messages() == 3
    # The same with 0 endpoints and with 25 (the worker fans out, not the door). PostgreSQL's
    # scan: the device's token, then its one statement (core/sql/checkin.py) in a savepoint.
    assert costs == ([4, 10, 6] if connection.vendor == "postgresql" else [10, 10, 6])
