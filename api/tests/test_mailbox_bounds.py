"""What one mailbox can be sent, counted through the real outbox (core.outbox, as the worker
sends) under the loops an attacker or a careless organiser can run over HTTP."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import outbox
from core.models import MessageKind, MessageStatus, OutgoingMessage

pytestmark = pytest.mark.django_db

VICTIM = "victim@example.com"
CAP = 5


def received(mails, address: str) -> list:
    return [mail for mail in mails if any(address.lower() in to.lower() for to in mail.to)]


@pytest.fixture
def capped(settings):
    settings.EMAIL_MAX_PER_MAILBOX_PER_HOUR = CAP


@pytest.mark.usefixtures("capped")
def test_a_register_cancel_loop_sends_one_mailbox_no_more_than_its_hourly_cap(
    api_client, event_factory, deliver_emails
):
    event = event_factory(max_capacity=5)
    for _ in range(30):
        body = {"name": "Victim", "email": VICTIM}
        registered = api_client.post(f"/api/events/{event.pk}/register/", body, format="json")
        assert registered.status_code == 201  # the registration itself always succeeds
        deliver_emails()  # the worst case: the worker sends between every two requests
        token = registered.json()["token"]
        assert api_client.delete(f"/api/registrations/{token}/").status_code == 204
        deliver_emails()

    assert len(received(deliver_emails(), VICTIM)) == CAP
    skipped = OutgoingMessage.objects.filter(email=VICTIM, status=MessageStatus.SKIPPED)
    assert skipped.count() == 60 - CAP
    assert {message.last_error for message in skipped} == {
        f"Not sent: {CAP} emails were sent to this mailbox in the last hour (cap {CAP})."
    }


@pytest.mark.usefixtures("capped")
def test_the_cap_is_per_mailbox_whatever_the_case_of_the_address(
    api_client, event_factory, deliver_emails
):
    for number in range(CAP + 2):
        event = event_factory()
        email = VICTIM.upper() if number % 2 else VICTIM
        body = {"name": "Victim", "email": email}
        assert (
            api_client.post(f"/api/events/{event.pk}/register/", body, format="json").status_code
            == 201
        )
    other = event_factory()
    body = {"name": "Other", "email": "other@example.com"}
    api_client.post(f"/api/events/{other.pk}/register/", body, format="json")

    mails = deliver_emails()

    assert len(received(mails, VICTIM)) == CAP
    assert len(received(mails, "other@example.com")) == 1


def test_a_patch_loop_sends_each_attendee_one_change_notice_per_sending(
    organiser_factory, token_client, event_factory, attendee_factory, in_days, deliver_emails
):
    owner = organiser_factory()
    client = token_client(owner)
    event = event_factory(owner=owner, name="Launch", start_time=in_days(10))
    attendees = [attendee_factory(event=event, email=f"a{n}@example.com") for n in range(3)]
    deliver_emails().clear()

    for number in range(1, 51):
        response = client.patch(
            f"/api/events/{event.pk}/", {"name": f"Launch {number}"}, format="json"
        )
        assert response.status_code == 200
        if number % 10 == 0:
            deliver_emails()  # the worker sends five times during the fifty changes

    mails = deliver_emails()
    for attendee in attendees:
        notices = received(mails, attendee.email)
        assert len(notices) == 5
        assert "Launch 50" in notices[-1].body
    assert OutgoingMessage.objects.filter(kind=MessageKind.EVENT_CHANGED).count() == 15


def test_a_burst_of_changes_before_the_worker_sends_is_one_notice_with_the_last_change(
    organiser_factory, token_client, event_factory, attendee_factory, in_days, deliver_emails
):
    owner = organiser_factory()
    client = token_client(owner)
    event = event_factory(owner=owner, name="Launch", start_time=in_days(10))
    attendee = attendee_factory(event=event, email="ada@example.com")
    deliver_emails().clear()

    for number in range(1, 51):
        client.patch(f"/api/events/{event.pk}/", {"name": f"Launch {number}"}, format="json")

    notices = received(deliver_emails(), attendee.email)
    assert len(notices) == 1
    assert "Launch 50" in notices[0].body


def test_a_change_after_the_worker_claimed_the_notice_is_sent_too(
    organiser_factory, token_client, event_factory, attendee_factory, in_days, deliver_emails
):
    from core.outbox import claim_messages, deliver_message

    owner = organiser_factory()
    client = token_client(owner)
    event = event_factory(owner=owner, name="Launch", start_time=in_days(10))
    attendee = attendee_factory(event=event, email="ada@example.com")
    deliver_emails().clear()
    client.patch(f"/api/events/{event.pk}/", {"name": "First"}, format="json")
    claimed = claim_messages()  # a worker holds the first notice, perhaps rendered already

    client.patch(f"/api/events/{event.pk}/", {"name": "Second"}, format="json")
    for message_id in claimed:
        deliver_message(message_id=message_id)

    notices = received(deliver_emails(), attendee.email)
    assert len(notices) == 2
    assert "Second" in notices[-1].body


def test_mailbox_cap_and_coalescing_do_not_touch_another_event(
    organiser_factory, token_client, event_factory, attendee_factory, in_days, deliver_emails
):
    owner = organiser_factory()
    client = token_client(owner)
    events = [event_factory(owner=owner, start_time=in_days(10)) for _ in range(2)]
    for event in events:
        attendee_factory(event=event, email="ada@example.com")
    deliver_emails().clear()

    for event in events:
        client.patch(f"/api/events/{event.pk}/", {"name": "Renamed"}, format="json")

    assert len(received(deliver_emails(), "ada@example.com")) == 2


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the plan of PostgreSQL's own index is read"
)
def test_the_mailbox_cap_reads_one_mailbox_by_index_however_big_the_outbox(event_factory):
    """The cap's count runs for every capped message sent: a scan of the whole outbox would grow
    with every email ever sent."""
    event = event_factory()
    OutgoingMessage.objects.bulk_create(
        OutgoingMessage(
            kind=MessageKind.REGISTERED,
            event=event,
            name="Someone",
            email=f"someone{i}@example.com",
            status=MessageStatus.SENT,
            sent_at=timezone.now(),
        )
        for i in range(2000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE core_outgoingmessage")
    with CaptureQueriesContext(connection) as queries:
        assert outbox._sent_to_mailbox_in_the_last_hour("Someone7@Example.com") == 1
    (count,) = queries.captured_queries
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + count["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "outgoing_message_mailbox_sent" in plan, plan
    assert "Seq Scan" not in plan, plan
