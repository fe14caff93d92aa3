"""Where an email goes and what its headers and invite hold, as a mail server meets them:
registrations over HTTP (the in-process client), sent by the worker's loop
(core.outbox.send_due_messages) over SMTP to a real server on 127.0.0.1 (aiosmtpd) that keeps
each message with its envelope recipients."""

import email
import logging
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage

import icalendar
import pytest
from aiosmtpd.controller import Controller

from core.models import MessageStatus, OutgoingMessage
from core.outbox import send_due_messages
from testing.servers import free_port

pytestmark = pytest.mark.django_db

# What RFC 5322 headers and RFC 5545 content lines may not hold (CRLF ends a line, a tab is
# allowed): NUL to BS, VT, FF, SO to US, DEL.
FORBIDDEN_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class Delivery:
    """One message the server accepted: who it was for, by the envelope, and what it was."""

    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


class MailServer:
    """An aiosmtpd handler that keeps what it accepts, and refuses the recipients in `refuse`
    with a 550 that quotes the address, as real servers do."""

    def __init__(self):
        self.deliveries: list[Delivery] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.deliveries.append(
            Delivery(
                rcpt_tos=list(envelope.rcpt_tos),
                raw=envelope.content,
                message=email.message_from_bytes(envelope.content, policy=policy.default),
            )
        )
        return "250 Message accepted for delivery"

    def envelope_recipients(self) -> list[list[str]]:
        return [delivery.rcpt_tos for delivery in self.deliveries]


@pytest.fixture
def mail_server(settings):
    """A mail server on 127.0.0.1 that the app's SMTP backend sends to."""
    server = MailServer()
    port = free_port()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.DEFAULT_FROM_EMAIL = "events@events.example.org"
    yield server
    controller.stop()


def register(api_client, event, name: str, address: str) -> dict:
    response = api_client.post(
        f"/api/events/{event.pk}/register/", {"name": name, "email": address}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def send_emails() -> None:
    """What `manage.py send_emails` does with the messages that are due."""
    while send_due_messages():
        pass


def header_lines(raw: bytes) -> list[bytes]:
    head, _, _ = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    return head.splitlines()


def plain_text(message: EmailMessage) -> str:
    """The plain text body, its lines ended as the app wrote them (SMTP ends them with CRLF)."""
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def invite(message: EmailMessage) -> tuple[bytes, icalendar.Calendar]:
    """The invite `message` carries, as sent and parsed back."""
    (part,) = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    raw = part.get_payload(decode=True)
    return raw, icalendar.Calendar.from_ical(raw)


@pytest.mark.parametrize(
    "name",
    [
        "Hi <target@third.example> (",
        "target@third.example",
        "<target@third.example>",
        "Ada, target@third.example",
        'Ada" <target@third.example>, "Bob',
        "=?utf-8?q?target=40third=2Eexample?= <target@third.example>",
        "Ada\r\nBcc: target@third.example",
    ],
)
def test_a_name_never_chooses_where_the_email_goes(api_client, event_factory, mail_server, name):
    event = event_factory()
    register(api_client, event, name, "dummy0@nowhere.example")
    send_emails()

    assert mail_server.envelope_recipients() == [["dummy0@nowhere.example"]]
    (delivery,) = mail_server.deliveries
    (to,) = delivery.message["To"].addresses
    assert to.addr_spec == "dummy0@nowhere.example"
    assert delivery.message["Cc"] is None
    assert delivery.message["Bcc"] is None
    assert OutgoingMessage.objects.get().status == MessageStatus.SENT


@pytest.mark.parametrize(
    ("name", "shown_as"),
    [
        ("Lovelace, Ada", "Lovelace, Ada"),
        ("Dr. Who: Time Lord", "Dr. Who: Time Lord"),
        ("Ada; Countess of Lovelace", "Ada; Countess of Lovelace"),
        ("ada@home", "ada@home"),
        ("[Ada] Lovelace", "[Ada] Lovelace"),
        ("<Ada", "<Ada"),
        ('Ada "the Countess" \\ Lovelace', 'Ada "the Countess" \\ Lovelace'),
        ("Zoë Ångström, 王", "Zoë Ångström, 王"),
        ("Ada\nLovelace", "Ada Lovelace"),
        ("Ada\x0bLovelace\x0c", "Ada Lovelace"),
    ],
)
def test_every_valid_name_gets_its_email_addressed_by_it(
    api_client, event_factory, mail_server, name, shown_as
):
    event = event_factory(name="PyCon Berlin")
    register(api_client, event, name, "ada@example.com")
    send_emails()

    assert OutgoingMessage.objects.get().status == MessageStatus.SENT  # at the first try
    assert mail_server.envelope_recipients() == [["ada@example.com"]]
    (delivery,) = mail_server.deliveries
    (to,) = delivery.message["To"].addresses
    assert (to.display_name, to.addr_spec) == (shown_as, "ada@example.com")
    # The name is quoted in the greeting, never in the subject.
    assert delivery.message["Subject"] == "Your seat at PyCon Berlin is confirmed"
    stored = OutgoingMessage.objects.get().name  # as given, trimmed at the ends
    assert f"Hello {stored}," in plain_text(delivery.message)
    # In the invite it is the attendee's CN, on one line.
    raw, calendar = invite(delivery.message)
    assert not FORBIDDEN_CONTROLS.search(raw.decode())
    (vevent,) = calendar.walk("VEVENT")
    assert vevent["ATTENDEE"].params["CN"] == shown_as


def test_an_event_name_with_line_breaks_and_control_characters_fails_none_of_its_emails(
    api_client, event_factory, mail_server
):
    event = event_factory(
        name="Launch\r\nBcc: target@third.example\x0bparty\x0c\x1b\x85night\u2028",
        location="Hall\x0bA\r\nupstairs",
    )
    register(api_client, event, "Ada", "ada@example.com")
    register(api_client, event, "Lovelace, Grace", "grace@example.com")
    send_emails()

    assert sorted(OutgoingMessage.objects.values_list("email", "status")) == [
        ("ada@example.com", MessageStatus.SENT),
        ("grace@example.com", MessageStatus.SENT),
    ]
    assert sorted(mail_server.envelope_recipients()) == [
        ["ada@example.com"],
        ["grace@example.com"],
    ]
    for delivery in mail_server.deliveries:
        for line in header_lines(delivery.raw):
            assert not FORBIDDEN_CONTROLS.search(line.decode("ascii")), line
        assert delivery.message["Bcc"] is None
        # The subject holds the name on one line, each run of controls one space.
        assert delivery.message["Subject"] == (
            "Your seat at Launch Bcc: target@third.example party night is confirmed"
        )
        # The body quotes it as it is.
        assert event.name.replace("\r\n", "\n") in plain_text(delivery.message)
        raw, calendar = invite(delivery.message)
        assert not FORBIDDEN_CONTROLS.search(raw.decode())
        (vevent,) = calendar.walk("VEVENT")
        assert str(vevent["SUMMARY"]) == "Launch\nBcc: target@third.example party night\u2028"
        assert str(vevent["LOCATION"]) == "Hall A\nupstairs"


def test_a_refused_send_is_logged_by_message_id_and_smtp_code_alone(
    api_client, event_factory, mail_server, caplog, settings
):
    event = event_factory()
    registration = register(api_client, event, "Lovelace, Ada", "ada@example.com")
    mail_server.refuse.add("ada@example.com")
    with caplog.at_level(logging.WARNING, logger="core.outbox"):
        send_emails()

    message = OutgoingMessage.objects.get()
    assert (message.status, message.attempts) == (MessageStatus.QUEUED, 1)
    (record,) = [r for r in caplog.records if r.name == "core.outbox"]
    line = record.getMessage()
    assert line == (
        f"Sending message {message.pk} failed (attempt 1 of {settings.EMAIL_MAX_ATTEMPTS}): "
        "SMTPRecipientsRefused (SMTP 550)"
    )
    for private in ("ada@example.com", "Lovelace", registration["token"]):
        assert private not in line
        assert private not in str(record.args)
    assert record.exc_info is None
    # The row keeps the server's answer for staff, who see the address beside it anyway.
    assert "550" in message.last_error
    assert "Recipient address rejected" in message.last_error
