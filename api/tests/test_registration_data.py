"""An attendee's own data over HTTP: taken away as JSON, erased with the cancellation; and the
retention period erasing it after the event."""

import io
import json
import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from core.models import (
    ERASED_NAME,
    Attendee,
    ErasureRecord,
    Event,
    IdempotencyKey,
    OutgoingMessage,
    WebhookAttempt,
    WebhookEventType,
    WebhookMessage,
)
from core.services import (
    create_webhook_endpoint,
    erase_expired_registrations,
    erase_registrations,
    save_question,
)

pytestmark = pytest.mark.django_db

EMAIL = "ada.private@example.com"


def register(client, event, email=EMAIL, **body):
    return client.post(
        f"/api/events/{event.pk}/register/",
        {"name": "Ada Private" if email == EMAIL else "Someone Else", "email": email, **body},
        format="json",
        HTTP_IDEMPOTENCY_KEY=f"key-{email}",
    )


def dump() -> str:
    """Every row the project writes, as `manage.py dumpdata` exports them, and the kept answers
    of the idempotency store decoded (dumpdata writes them in Base64)."""
    out = io.StringIO()
    call_command("dumpdata", stdout=out)
    bodies = b"".join(bytes(body) for body in IdempotencyKey.objects.values_list("body", flat=True))
    return out.getvalue() + bodies.decode(errors="replace")


@pytest.fixture
def event(event_factory):
    event = event_factory(max_capacity=1)
    save_question(event_id=event.pk, label="Diet", kind="text")
    return event


def test_the_attendee_takes_away_everything_stored_about_them(api_client, event, deliver_emails):
    diet = str(event.questions.get().pk)
    body = register(api_client, event, answers={diet: "vegan"}).json()
    deliver_emails()
    response = api_client.get(f"/api/registrations/{body['token']}/data/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert data["registration"]["email"] == EMAIL
    assert data["registration"]["answers"] == {diet: "vegan"}
    assert data["event"]["id"] == event.pk
    assert data["answers"] == [{"question": diet, "label": "Diet", "answer": "vegan"}]
    assert [step["status"] for step in data["status_history"]] == ["registered"]
    (email,) = data["emails"]
    assert (email["kind"], email["status"]) == ("registered", "sent")
    assert email["sent_at"].endswith("Z")
    missing = api_client.get("/api/registrations/not-a-token/data/")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


def test_the_history_follows_a_waiting_place_to_its_seat(api_client, event):
    seated = register(api_client, event, email="bob@example.com").json()
    waiting = register(api_client, event, waitlist=True).json()
    assert api_client.delete(f"/api/registrations/{seated['token']}/").status_code == 204
    data = api_client.get(f"/api/registrations/{waiting['token']}/data/").json()
    assert [step["status"] for step in data["status_history"]] == ["waitlisted", "registered"]


def test_erasing_cancels_and_leaves_nothing_personal(api_client, event, deliver_emails, caplog):
    caplog.set_level(logging.DEBUG)
    diet = str(event.questions.get().pk)
    seated = register(api_client, event, answers={diet: "vegan"}).json()
    waiting = register(api_client, event, email="bob@example.com", waitlist=True).json()
    deliver_emails()
    assert EMAIL in dump()

    response = api_client.delete(f"/api/registrations/{seated['token']}/?erase=true")

    assert response.status_code == 204
    assert EMAIL not in dump()
    assert "Ada Private" not in dump()
    assert "vegan" not in dump()
    # The seat went to the waiting list: the counts stay true.
    event.refresh_from_db()
    assert (event.seats_taken, event.waitlist_taken) == (1, 0)
    assert api_client.get(f"/api/registrations/{waiting['token']}/").json()["status"] == (
        "registered"
    )
    # No goodbye is sent to an address that is gone; the erasure is recorded without it.
    assert [email.to for email in deliver_emails()[2:]] == [["Someone Else <bob@example.com>"]]
    record = ErasureRecord.objects.get()
    assert (record.event_id, record.count, record.reason) == (event.pk, 1, "attendee")
    again = api_client.delete(f"/api/registrations/{seated['token']}/?erase=true")
    assert (again.status_code, again.json()["code"]) == (404, "not_found")
    # Nor did any log line this project wrote along the way name it.
    assert caplog.records
    assert EMAIL not in caplog.text


def test_a_bad_erase_flag_is_refused_and_nothing_happens(api_client, event):
    token = register(api_client, event).json()["token"]
    response = api_client.delete(f"/api/registrations/{token}/?erase=perhaps")
    assert (response.status_code, list(response.json()["errors"])) == (400, ["erase"])
    assert Attendee.objects.filter(email=EMAIL).exists()


def test_retention_erases_every_attendee_of_an_event_long_over(
    api_client, event_factory, attendee_factory, settings
):
    settings.RETENTION = timedelta(days=90)
    now = timezone.now()
    event = event_factory(max_capacity=5)
    register(api_client, event)
    register(api_client, event, email="bob@example.com", waitlist=True)
    removed = register(api_client, event, email="cy@example.com").json()
    api_client.delete(f"/api/registrations/{removed['token']}/")
    recent = event_factory()
    attendee_factory(event=recent, email="recent@example.com")
    Event.objects.filter(pk=event.pk).update(
        start_time=now - timedelta(days=95), end_time=now - timedelta(days=91)
    )
    Event.objects.filter(pk=recent.pk).update(
        start_time=now - timedelta(days=89, hours=4), end_time=now - timedelta(days=89)
    )

    # The kept answers to the registration requests expired long ago, as they do in hours.
    IdempotencyKey.objects.update(expires_at=now - timedelta(days=90))

    out = io.StringIO()
    call_command("erase_expired", stdout=out)

    assert f"Event {event.pk}: 2 registration(s) erased." in out.getvalue()
    text = dump()
    for email in (EMAIL, "bob@example.com", "cy@example.com"):
        assert email not in text
    assert "recent@example.com" in text
    event.refresh_from_db()
    assert (event.seats_taken, event.waitlist_taken) == (2, 0)
    names = set(Attendee.objects.filter(event=event).values_list("name", flat=True))
    assert names == {ERASED_NAME}
    # Each tombstone its own address: the (event, lower(email)) index holds.
    assert Attendee.objects.filter(event=event).values("email").distinct().count() == 2
    assert not OutgoingMessage.objects.filter(event=event, email__contains="example.com").exists()
    record = ErasureRecord.objects.get(event_id=event.pk)
    assert (record.count, record.reason) == (2, "retention")
    # A second pass finds nothing left to erase.
    assert erase_expired_registrations() == []


def test_erasing_leaves_nothing_personal_in_the_webhooks_or_their_log(
    api_client, event, receiver, deliver_webhooks, staff_factory
):
    """A staff endpoint hears of every registration; its messages and the log of its attempts
    (the receiver's answers, which may echo what they got) are erased with the registration."""
    endpoint = create_webhook_endpoint(
        owner=staff_factory(), url=receiver.url, event_types=list(WebhookEventType.values)
    )
    receiver.secrets = [endpoint.secret]
    receiver.answer_body = EMAIL.encode()  # a receiver echoing the address in its answer
    seated = register(api_client, event).json()
    deliver_webhooks()
    assert [r.payload["data"]["email"] for r in receiver.accepted] == [EMAIL]
    assert EMAIL in dump()

    response = api_client.delete(f"/api/registrations/{seated['token']}/?erase=true")

    assert response.status_code == 204
    assert EMAIL not in dump()
    assert "Ada Private" not in dump()


@pytest.fixture
def door_scans(token_client, staff_factory):
    """`door_scans(event, ticket)`: the ticket admitted at the door online, then scanned again by a
    scanner that was offline (a conflict kept for the organiser); staff's client."""
    client = token_client(staff_factory())

    def admit(event, ticket):
        base = f"/api/events/{event.pk}/checkins"
        online = client.post(f"{base}/", {"ticket": ticket, "nonce": "gate-a-1"}, format="json")
        assert online.status_code == 201, online.content
        later = {"ticket": ticket, "nonce": "gate-b-1", "scanned_at": timezone.now().isoformat()}
        batch = client.post(f"{base}/batch/", {"scans": [later]}, format="json")
        assert batch.json()["results"][0]["outcome"] == "already_checked_in", batch.content
        return client

    return admit


def test_erasing_a_registration_admitted_at_the_door_leaves_its_name_nowhere(
    api_client, event, door_scans
):
    seated = register(api_client, event).json()
    client = door_scans(event, seated["ticket"])
    assert "Ada Private" in dump()

    response = api_client.delete(f"/api/registrations/{seated['token']}/?erase=true")

    assert response.status_code == 204
    assert "Ada Private" not in dump()
    # What the door is shown stays, nameless: the conflict, and the scan's retry's answer.
    base = f"/api/events/{event.pk}/checkins"
    (conflict,) = client.get(f"{base}/conflicts/").json()["results"]
    retried = client.post(
        f"{base}/", {"ticket": seated["ticket"], "nonce": "gate-a-1"}, format="json"
    )
    assert (conflict["name"], retried.status_code, retried.json()["name"]) == (
        ERASED_NAME,
        201,
        ERASED_NAME,
    )


def test_staff_erasing_a_registration_leaves_nothing_personal(api_client, event, door_scans):
    """Staff erase one registration and keep its seat (the admin's action): the door's copies
    of its name and the idempotency store's copy of its answer go with the rest."""
    seated = register(api_client, event).json()
    other = register(api_client, event, email="bob@example.com", waitlist=True).json()
    door_scans(event, seated["ticket"])
    assert EMAIL in dump()

    erase_registrations(event_id=event.pk, attendee_ids=[seated["id"]], reason="staff")

    text = dump()
    assert EMAIL not in text
    assert "Ada Private" not in text
    assert seated["token"] not in text
    # Only the one asked for.
    assert other["token"] in text


def check_in(client, event, ticket, nonce):
    response = client.post(
        f"/api/events/{event.pk}/checkins/", {"ticket": ticket, "nonce": nonce}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def checkin_webhooks(event) -> list[dict]:
    return list(
        WebhookMessage.objects.filter(event=event, type__startswith="checkin.")
        .order_by("id")
        .values_list("data", flat=True)
    )


@pytest.fixture
def door(event_factory, staff_factory, token_client, receiver):
    """An event of 3 seats, a staff member's client checking in at it, and their endpoint at
    the receiver for check-ins, whose answers echo the name they got."""
    staff = staff_factory()
    endpoint = create_webhook_endpoint(
        owner=staff, url=receiver.url, event_types=["checkin.created", "checkin.reverted"]
    )
    receiver.secrets = [endpoint.secret]
    receiver.answer_body = b"Ada Private"
    return event_factory(max_capacity=3), token_client(staff)


def test_erasing_leaves_nothing_personal_in_the_check_in_webhooks(
    api_client, door, deliver_webhooks, receiver
):
    event, client = door
    seated = register(api_client, event).json()
    other = register(api_client, event, email="bob@example.com").json()
    admitted = check_in(client, event, seated["ticket"], "n-1")
    client.delete(f"/api/events/{event.pk}/checkins/{admitted['id']}/")
    check_in(client, event, seated["ticket"], "n-2")
    check_in(client, event, other["ticket"], "n-3")
    deliver_webhooks()
    assert [r.payload["data"]["name"] for r in receiver.accepted] == ["Ada Private"] * 3 + [
        "Someone Else"
    ]

    response = api_client.delete(f"/api/registrations/{seated['token']}/?erase=true")

    assert response.status_code == 204
    told = checkin_webhooks(event)
    assert [data["name"] for data in told] == [ERASED_NAME] * 3 + ["Someone Else"]
    assert all(data["registration"] == seated["id"] for data in told[:3])
    assert "Ada Private" not in json.dumps(told)
    assert EMAIL not in json.dumps(told)
    # Nor the log of the receiver's answers, which echoed the name.
    answers = WebhookAttempt.objects.filter(delivery__message__data__registration=seated["id"])
    assert set(answers.values_list("response_body", flat=True)) == {""}


def test_erasing_an_events_registrations_scrubs_its_check_in_webhooks(
    api_client, door, event_factory
):
    event, client = door
    check_in(client, event, register(api_client, event).json()["ticket"], "n-1")
    elsewhere = event_factory()
    other = register(api_client, elsewhere, email="cy@example.com").json()
    check_in(client, elsewhere, other["ticket"], "n-2")

    erase_registrations(event_id=event.pk, reason="staff")

    assert [data["name"] for data in checkin_webhooks(event)] == [ERASED_NAME]
    assert [data["name"] for data in checkin_webhooks(elsewhere)] == ["Someone Else"]
