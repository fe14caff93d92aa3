"""Emails to attendees: queued with the change that causes them, sent by the worker;
each kind's text, link and invite, as the recipient gets them (Django's locmem backend)."""

import io
import re
from datetime import UTC, timedelta

import icalendar
import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from core import outbox, services
from core.models import Attendee, AttendeeStatus, MessageKind, MessageStatus, OutgoingMessage
from core.outbox import claim_messages, deliver_message
from core.services import (
    cancel_event,
    cancel_registration_by_token,
    register_attendee,
    remove_attendee,
    retry_messages,
    update_event,
)
from core.tickets import issue_ticket
from core.tokens import hash_token

pytestmark = pytest.mark.django_db

# SQLite's clock, which stamps due times and leases, reads in milliseconds.
MILLISECOND = timedelta(milliseconds=1)

LINK = re.compile(r"http://testserver\.example/registrations/([A-Za-z0-9_-]+)/")


@pytest.fixture(autouse=True)
def public_url(settings):
    settings.PUBLIC_URL = "http://testserver.example"
    settings.DEFAULT_FROM_EMAIL = "Events <events@example.org>"


def invite_of(email) -> tuple[str, icalendar.Calendar] | None:
    """The calendar attached to `email`, parsed back, with its Content-Type; None without."""
    found = [a for a in email.attachments if a.mimetype.startswith("text/calendar")]
    if not found:
        return None
    (attachment,) = found
    return attachment.mimetype, icalendar.Calendar.from_ical(attachment.content)


def calendar_text(email) -> str:
    (attachment,) = [a for a in email.attachments if a.mimetype.startswith("text/calendar")]
    return attachment.content


def only_vevent(calendar: icalendar.Calendar) -> icalendar.Event:
    (event,) = calendar.walk("VEVENT")
    return event


def html_of(email) -> str:
    ((html, mimetype),) = email.alternatives
    assert mimetype == "text/html"
    return html


def test_a_registration_is_confirmed_with_an_invite_and_a_link_that_cancels(
    event_factory, deliver_emails, api_client
):
    event = event_factory(name="PyCon, Berlin", location="Hall A; upstairs")
    registration = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    assert mail.outbox == []  # queued, not sent, by the registration itself

    (email,) = deliver_emails()
    assert email.subject == "Your seat at PyCon, Berlin is confirmed"
    assert email.to == ["Ada <ada@example.com>"]
    assert email.from_email == "Events <events@example.org>"
    assert "Your seat at PyCon, Berlin is confirmed." in email.body
    assert f"Starts: {event.start_time.astimezone(UTC):%A}" in email.body
    assert "UTC" in email.body
    # The same token the 201 answered with, in both parts.
    assert LINK.findall(email.body) == [registration.token]
    assert LINK.findall(html_of(email)) == [registration.token]

    mimetype, calendar = invite_of(email)
    assert mimetype.startswith("text/calendar; method=REQUEST")
    assert calendar["METHOD"] == "REQUEST"
    vevent = only_vevent(calendar)
    assert str(vevent["SUMMARY"]) == "PyCon, Berlin"
    assert str(vevent["LOCATION"]) == "Hall A; upstairs"
    assert vevent["UID"] == f"event-{event.pk}@testserver.example"
    assert vevent["SEQUENCE"] == 0
    # In UTC, to the second (iCalendar's precision).
    assert vevent.decoded("DTSTART") == event.start_time.replace(microsecond=0)
    assert vevent.decoded("DTEND") == event.end_time.replace(microsecond=0)
    assert f"DTSTART:{event.start_time.astimezone(UTC):%Y%m%dT%H%M%S}Z" in calendar_text(email)
    assert f"DTEND:{event.end_time.astimezone(UTC):%Y%m%dT%H%M%S}Z" in calendar_text(email)
    assert str(vevent["ORGANIZER"]) == "mailto:events@example.org"
    assert str(vevent["ATTENDEE"]) == "mailto:ada@example.com"
    assert OutgoingMessage.objects.get().status == MessageStatus.SENT

    response = api_client.delete(f"/api/registrations/{LINK.findall(email.body)[0]}/")
    assert response.status_code == 204
    assert not Attendee.objects.exists()


def test_a_waiting_place_is_confirmed_with_its_position_and_no_invite(
    event_factory, deliver_emails
):
    event = event_factory(max_capacity=1)
    register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    waiting = register_attendee(
        event_id=event.pk, name="Bob", email="bob@example.com", waitlist=True
    )
    _, email = deliver_emails()
    assert email.subject == f"You are on the waiting list for {event.name}"
    assert "Your place on the waiting list: 1." in email.body
    assert LINK.findall(email.body) == [waiting.token]
    assert invite_of(email) is None


def test_a_promotion_carries_the_invite_and_a_link_with_the_token_issued_long_before(
    event_factory, deliver_emails
):
    event = event_factory(max_capacity=1)
    seated = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    waiting = register_attendee(
        event_id=event.pk, name="Bob", email="bob@example.com", waitlist=True
    )
    deliver_emails()
    mail.outbox.clear()

    cancel_registration_by_token(token=seated.token)
    emails = {email.to[0]: email for email in deliver_emails()}

    promotion = emails["Bob <bob@example.com>"]
    assert promotion.subject == f"A seat at {event.name} is yours"
    # Derived again by the worker from the stored nonce: the token Bob was answered with.
    assert LINK.findall(promotion.body) == [waiting.token]
    assert LINK.findall(html_of(promotion)) == [waiting.token]
    _, calendar = invite_of(promotion)
    assert calendar["METHOD"] == "REQUEST"
    assert only_vevent(calendar)["UID"] == f"event-{event.pk}@testserver.example"

    goodbye = emails["Ada <ada@example.com>"]
    assert goodbye.subject == f"Your registration for {event.name} is cancelled"
    assert LINK.findall(goodbye.body) == []
    # Her seat's invite is withdrawn from her calendar.
    _, calendar = invite_of(goodbye)
    assert calendar["METHOD"] == "CANCEL"
    assert only_vevent(calendar)["UID"] == f"event-{event.pk}@testserver.example"


def test_a_removal_by_the_organiser_is_told(event_factory, deliver_emails):
    event = event_factory()
    registration = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    deliver_emails()
    mail.outbox.clear()

    remove_attendee(event_id=event.pk, attendee_id=registration.attendee.pk)
    (email,) = deliver_emails()
    assert email.subject == f"Your registration for {event.name} was removed"
    assert "The organiser of" in email.body
    _, calendar = invite_of(email)
    assert calendar["METHOD"] == "CANCEL"


def test_a_waiting_place_cancelled_withdraws_no_invite(event_factory, deliver_emails):
    event = event_factory(max_capacity=1)
    register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    waiting = register_attendee(
        event_id=event.pk, name="Bob", email="bob@example.com", waitlist=True
    )
    deliver_emails()
    mail.outbox.clear()
    cancel_registration_by_token(token=waiting.token)
    (email,) = deliver_emails()
    assert email.subject == f"Your registration for {event.name} is cancelled"
    assert invite_of(email) is None


def test_a_change_of_time_or_place_sends_seat_holders_an_updated_invite(
    event_factory, deliver_emails, in_days
):
    event = event_factory(max_capacity=1)
    seated = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    register_attendee(event_id=event.pk, name="Bob", email="bob@example.com", waitlist=True)
    (first_invite, _) = deliver_emails()
    original = only_vevent(invite_of(first_invite)[1])
    mail.outbox.clear()

    start = in_days(40).replace(microsecond=0)
    update_event(
        event_id=event.pk, location="Room 2", start_time=start, end_time=start + timedelta(hours=2)
    )
    (email,) = deliver_emails()  # the seat's holder only: the waiting list holds no invite
    assert email.to == ["Ada <ada@example.com>"]
    assert email.subject == f"{event.name} has changed: updated invite"
    assert "Where: Room 2" in email.body
    assert LINK.findall(email.body) == [seated.token]
    _, calendar = invite_of(email)
    assert calendar["METHOD"] == "REQUEST"
    updated = only_vevent(calendar)
    assert updated["UID"] == original["UID"]
    assert updated["SEQUENCE"] == original["SEQUENCE"] + 1 == 1
    assert str(updated["LOCATION"]) == "Room 2"
    assert updated.decoded("DTSTART") == start

    mail.outbox.clear()
    update_event(event_id=event.pk, name="Renamed")
    (email,) = deliver_emails()
    assert only_vevent(invite_of(email)[1])["SEQUENCE"] == 2


def test_a_change_of_capacity_alone_sends_nothing(event_factory, deliver_emails):
    event = event_factory()
    register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    deliver_emails()
    mail.outbox.clear()
    update_event(event_id=event.pk, max_capacity=50, location=event.location)
    assert deliver_emails() == []
    event.refresh_from_db()
    assert event.sequence == 0


def test_a_cancelled_event_tells_everyone_registered_or_waiting(event_factory, deliver_emails):
    event = event_factory(max_capacity=1)
    register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    register_attendee(event_id=event.pk, name="Bob", email="bob@example.com", waitlist=True)
    deliver_emails()
    mail.outbox.clear()

    cancel_event(event_id=event.pk)
    emails = {email.to[0]: email for email in deliver_emails()}
    assert set(emails) == {"Ada <ada@example.com>", "Bob <bob@example.com>"}
    for email in emails.values():
        assert email.subject == f"{event.name} is cancelled"
    mimetype, calendar = invite_of(emails["Ada <ada@example.com>"])
    assert mimetype.startswith("text/calendar; method=CANCEL")
    assert calendar["METHOD"] == "CANCEL"
    assert only_vevent(calendar)["STATUS"] == "CANCELLED"
    assert only_vevent(calendar)["UID"] == f"event-{event.pk}@testserver.example"
    assert invite_of(emails["Bob <bob@example.com>"]) is None

    cancel_event(event_id=event.pk)  # again: changes nothing, sends nothing
    mail.outbox.clear()
    assert deliver_emails() == []


def test_a_rolled_back_registration_queues_nothing(event_factory, deliver_emails):
    event = event_factory()

    def register_then_fail():
        with transaction.atomic():
            register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        register_then_fail()
    assert not OutgoingMessage.objects.exists()
    assert deliver_emails() == []


def test_a_registration_cancelled_before_its_confirmation_went_out_is_not_confirmed(
    event_factory, deliver_emails
):
    event = event_factory()
    registration = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    cancel_registration_by_token(token=registration.token)
    (email,) = deliver_emails()
    assert email.subject == f"Your registration for {event.name} is cancelled"
    statuses = dict(OutgoingMessage.objects.values_list("kind", "status"))
    assert statuses == {MessageKind.REGISTERED: "skipped", MessageKind.CANCELLED: "sent"}


def test_a_registration_made_before_nonces_gets_its_email_without_a_link(
    event_factory, attendee_factory, deliver_emails
):
    event = event_factory(max_capacity=1)
    # As a row from before: a token's hash, no nonce.
    old = attendee_factory(event=event, token_hash=hash_token("an-old-random-token"))
    register_attendee(event_id=event.pk, name="Bob", email="bob@example.com", waitlist=True)
    update_event(event_id=event.pk, location="Elsewhere")
    mail.outbox.clear()
    deliver_emails()
    (email,) = [email for email in mail.outbox if old.email in email.to[0]]
    assert LINK.findall(email.body) == []
    assert "made before emails carried a link" in email.body
    assert "DELETE http://testserver.example/api/registrations/" in email.body


def test_a_link_is_derived_again_after_the_secret_key_is_rotated(
    event_factory, deliver_emails, settings
):
    event = event_factory()
    registration = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-for-the-rotation-test-0123456789abcdef"
    (email,) = deliver_emails()
    assert LINK.findall(email.body) == [registration.token]


class BrokenMailServer:
    """An email backend whose server refuses every connection."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError(111, "Connection refused")


@pytest.fixture
def mail_server_down(settings):
    settings.EMAIL_BACKEND = f"{__name__}.BrokenMailServer"
    settings.EMAIL_RETRY_BASE_SECONDS = 30
    settings.EMAIL_MAX_ATTEMPTS = 3


def test_a_failed_send_is_retried_later_with_back_off(
    event_factory, deliver_emails, mail_server_down, settings
):
    event = event_factory()
    register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    before = timezone.now() - MILLISECOND
    assert deliver_emails() == []
    after = timezone.now()

    message = OutgoingMessage.objects.get()
    assert (message.status, message.attempts) == (MessageStatus.QUEUED, 1)
    assert message.last_error == "ConnectionRefusedError: [Errno 111] Connection refused"
    assert before + timedelta(seconds=30) <= message.available_at <= after + timedelta(seconds=30)

    # Due again: the second try waits twice as long.
    make_due()
    before = timezone.now() - MILLISECOND
    deliver_emails()
    after = timezone.now()
    message.refresh_from_db()
    assert before + timedelta(seconds=60) <= message.available_at <= after + timedelta(seconds=60)

    # The mail server is back: the next try sends it.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    make_due()
    (email,) = deliver_emails()
    assert email.to == ["Ada <ada@example.com>"]
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)
    assert message.sent_at is not None


def test_a_message_that_fails_every_try_stays_failed_until_retried(
    event_factory, deliver_emails, mail_server_down, settings
):
    event = event_factory()
    register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    for _ in range(3):
        make_due()
        assert deliver_emails() == []
    message = OutgoingMessage.objects.get()
    assert (message.status, message.attempts) == (MessageStatus.FAILED, 3)
    assert "Connection refused" in message.last_error
    make_due()
    assert claim_messages() == []  # given up

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    out = io.StringIO()
    call_command("retry_messages", stdout=out)
    assert out.getvalue().strip() == "Queued 1 failed message again."
    (email,) = deliver_emails()
    assert email.to == ["Ada <ada@example.com>"]
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (MessageStatus.SENT, 0, "")
    assert retry_messages() == 0  # nothing failed any more


def test_a_message_is_sent_once_when_delivered_twice(event_factory, deliver_emails):
    event = event_factory()
    register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    deliver_emails()
    # As if a second worker had claimed it too, after its lease ran out, while it was sent.
    assert deliver_message(message_id=OutgoingMessage.objects.get().pk) == MessageStatus.SENT
    assert len(deliver_emails()) == 1


def test_a_claimed_message_is_held_for_its_lease_then_due_again(event_factory, settings):
    settings.EMAIL_LEASE_SECONDS = 120
    event = event_factory()
    register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    before = timezone.now() - MILLISECOND
    (claimed,) = claim_messages()
    # Its worker died holding it: no other claim takes it until the lease runs out.
    assert claim_messages() == []
    message = OutgoingMessage.objects.get(pk=claimed)
    assert message.status == MessageStatus.QUEUED
    assert message.available_at >= before + timedelta(seconds=120)
    make_due()
    assert claim_messages() == [claimed]


def make_due() -> None:
    """Bring every queued message's next try (a back-off, or a lease) forward to now."""
    # A second back: SQLite's clock, which stamps the due times, reads in milliseconds.
    OutgoingMessage.objects.filter(status=MessageStatus.QUEUED).update(
        available_at=timezone.now() - timedelta(seconds=1)
    )


def test_seated_state_of_a_promoted_attendee_is_recorded(event_factory, deliver_emails):
    event = event_factory(max_capacity=1)
    seated = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    register_attendee(event_id=event.pk, name="Bob", email="bob@example.com", waitlist=True)
    cancel_registration_by_token(token=seated.token)
    promotion = OutgoingMessage.objects.get(kind=MessageKind.PROMOTED)
    assert promotion.seated
    assert Attendee.objects.get(pk=promotion.attendee_id).status == AttendeeStatus.REGISTERED


def test_a_waiting_place_promoted_before_its_email_went_out_gets_the_promotion_only(
    event_factory, deliver_emails
):
    event = event_factory(max_capacity=1)
    seated = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    register_attendee(event_id=event.pk, name="Bob", email="bob@example.com", waitlist=True)
    # Promoted before the worker got to the waiting-list email.
    cancel_registration_by_token(token=seated.token)
    (email,) = [email for email in deliver_emails() if email.to == ["Bob <bob@example.com>"]]
    assert email.subject == f"A seat at {event.name} is yours"
    assert invite_of(email)[1]["METHOD"] == "REQUEST"
    waiting = OutgoingMessage.objects.get(kind=MessageKind.WAITLISTED)
    assert waiting.status == MessageStatus.SKIPPED


def test_a_place_promoted_while_its_cancellation_waits_for_the_lock_has_its_invite_withdrawn(
    event_factory, deliver_emails, monkeypatch
):
    event = event_factory(max_capacity=1)
    seated = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    waiting = register_attendee(
        event_id=event.pk, name="Bob", email="bob@example.com", waitlist=True
    )
    lock_event = services._lock_event

    def promoted_meanwhile(event_id):
        # Ada's cancellation commits between Bob's read and his lock: Bob holds a seat now.
        monkeypatch.setattr(services, "_lock_event", lock_event)
        cancel_registration_by_token(token=seated.token)
        return lock_event(event_id)

    monkeypatch.setattr(services, "_lock_event", promoted_meanwhile)
    cancel_registration_by_token(token=waiting.token)
    goodbye = OutgoingMessage.objects.get(kind=MessageKind.CANCELLED, email="bob@example.com")
    assert goodbye.seated
    (email,) = [
        email
        for email in deliver_emails()
        if email.to == ["Bob <bob@example.com>"] and "cancelled" in email.subject
    ]
    assert invite_of(email)[1]["METHOD"] == "CANCEL"


def test_a_message_that_cannot_be_rendered_fails_on_its_own(
    event_factory, deliver_emails, monkeypatch, settings
):
    settings.EMAIL_MAX_ATTEMPTS = 1
    event = event_factory()
    register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    register_attendee(event_id=event.pk, name="Bob", email="bob@example.com")
    render = outbox.render_message

    def render_except_ada(message):
        if message.email == "ada@example.com":
            raise ValueError("a template that cannot render")
        return render(message)

    monkeypatch.setattr(outbox, "render_message", render_except_ada)
    (email,) = deliver_emails()  # the worker goes on past it
    assert email.to == ["Bob <bob@example.com>"]
    failed = OutgoingMessage.objects.get(email="ada@example.com")
    assert (failed.status, failed.attempts) == (MessageStatus.FAILED, 1)
    assert "ValueError" in failed.last_error


def ticket_png_of(email) -> bytes | None:
    found = [a for a in email.attachments if a.mimetype == "image/png"]
    if not found:
        return None
    ((filename, content, _),) = found
    assert filename == "ticket.png"
    return content


def test_a_seat_and_a_promotion_carry_the_ticket_and_a_waiting_place_none(
    event_factory, deliver_emails
):
    event = event_factory(max_capacity=1)
    seated = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    waiting = register_attendee(
        event_id=event.pk, name="Bob", email="bob@example.com", waitlist=True
    )
    confirmation, waiting_email = deliver_emails()
    mail.outbox.clear()
    cancel_registration_by_token(token=seated.token)
    promotion = next(e for e in deliver_emails() if e.to == ["Bob <bob@example.com>"])

    ada_ticket = issue_ticket(event_id=event.pk, registration_id=seated.attendee.pk)
    bob_ticket = issue_ticket(event_id=event.pk, registration_id=waiting.attendee.pk)
    assert ticket_png_of(confirmation).startswith(b"\x89PNG")
    assert ada_ticket in confirmation.body
    assert ada_ticket in html_of(confirmation)
    assert ticket_png_of(waiting_email) is None
    assert "ticket" not in waiting_email.body.lower()
    assert ticket_png_of(promotion).startswith(b"\x89PNG")
    assert bob_ticket in promotion.body
