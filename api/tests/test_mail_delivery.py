"""Confirmation emails end to end: registrations over HTTP to gunicorn, the real worker process
(`manage.py send_emails`), and a real SMTP server on 127.0.0.1 (aiosmtpd) that goes away and
comes back."""

import contextlib
import email
import re
import time
from email import policy

import icalendar
import pytest
from aiosmtpd.controller import Controller
from django.db import transaction

from core.models import MessageStatus, OutgoingMessage
from core.services import register_attendee
from testing.servers import free_port, gunicorn, post_json, worker

pytestmark = pytest.mark.django_db(transaction=True)

WAIT_SECONDS = 60
PUBLIC_URL = "https://events.example.org"


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"

    def wait_for(self, address: str) -> email.message.EmailMessage:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            for message in self.messages:
                if address in message["To"]:
                    return message
            time.sleep(0.1)
        raise AssertionError(f"No email to {address} within {WAIT_SECONDS}s: {self.messages}")

    def addressees(self) -> list[str]:
        return [message["To"] for message in self.messages]


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"Timed out waiting until {what}"
        time.sleep(0.1)


def register(url: str, event_id: int, email_address: str) -> tuple[int, dict]:
    return post_json(
        f"{url}/api/events/{event_id}/register/", {"name": "Ada", "email": email_address}
    )


def invite(message) -> icalendar.Calendar:
    (part,) = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    return icalendar.Calendar.from_ical(part.get_content())


def test_registrations_get_their_email_through_a_mail_server_outage(event_factory):
    event = event_factory(name="PyCon Berlin", location="Hall A")
    inbox = Inbox()
    port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    env = {
        "DJANGO_EMAIL_HOST": "127.0.0.1",
        "DJANGO_EMAIL_PORT": str(port),
        "DJANGO_DEFAULT_FROM_EMAIL": "events@events.example.org",
        "DJANGO_PUBLIC_URL": PUBLIC_URL,
        "DJANGO_EMAIL_RETRY_BASE_SECONDS": "0.5",
    }
    try:
        with gunicorn(workers=2, env=env) as url, worker(env=env):
            # A registration over HTTP: its confirmation arrives, invite and link included.
            status, body = register(url, event.pk, "first@example.com")
            assert status == 201, body
            message = inbox.wait_for("first@example.com")
            assert message["Subject"] == "Your seat at PyCon Berlin is confirmed"
            assert message["From"] == "events@events.example.org"
            text = message.get_body(("plain",)).get_content()
            assert f"{PUBLIC_URL}/registrations/{body['token']}/" in text
            html = message.get_body(("html",)).get_content()
            assert f"{PUBLIC_URL}/registrations/{body['token']}/" in html
            calendar = invite(message)
            assert calendar["METHOD"] == "REQUEST"
            (vevent,) = calendar.walk("VEVENT")
            assert str(vevent["SUMMARY"]) == "PyCon Berlin"
            assert str(vevent["LOCATION"]) == "Hall A"

            # The mail server goes away: a registration still answers 201 at once, its email
            # waits in the outbox, and arrives once the server is back.
            smtp.stop()
            status, body = register(url, event.pk, "during-outage@example.com")
            assert status == 201, body
            queued = OutgoingMessage.objects.filter(email="during-outage@example.com")
            wait_until(lambda: queued.filter(attempts__gte=1).exists(), "a send failed")
            assert queued.get().status == MessageStatus.QUEUED
            assert "Connection refused" in queued.get().last_error
            assert "during-outage@example.com" not in " ".join(inbox.addressees())
            smtp = Controller(inbox, hostname="127.0.0.1", port=port)
            smtp.start()
            inbox.wait_for("during-outage@example.com")
            wait_until(lambda: queued.get().status == MessageStatus.SENT, "recorded as sent")

            # A registration rolled back, and one refused with 409, send nothing; a later good
            # one is the barrier: once its email is in, the others would have been too.
            with pytest.raises(RuntimeError):
                register_then_roll_back(event.pk, "rolled-back@example.com")
            status, body = register(url, event.pk, "first@example.com")
            assert (status, body["code"]) == (409, "already_registered")
            status, body = register(url, event.pk, "barrier@example.com")
            assert status == 201, body
            inbox.wait_for("barrier@example.com")
            sent_to = re.findall(r"[\w.-]+@example\.com", " ".join(inbox.addressees()))
            assert sorted(sent_to) == [
                "barrier@example.com",
                "during-outage@example.com",
                "first@example.com",
            ]
            assert not OutgoingMessage.objects.filter(email="rolled-back@example.com").exists()
    finally:
        with contextlib.suppress(AssertionError):  # stopped already, by a failure above
            smtp.stop()


def register_then_roll_back(event_id: int, email_address: str) -> None:
    with transaction.atomic():
        register_attendee(event_id=event_id, name="Ghost", email=email_address)
        raise RuntimeError("rolled back")
