"""Emails to attendees, rendered from the rows as they are when the worker sends them.

Plain text and HTML from the templates in core/templates/mail/, times in UTC (events keep no
zone of their own). Confirmations, promotions and updates carry the event's invite (.ics,
core/calendar.py) and a link to the registration's cancel page, with its token re-derived from
the stored nonce (core/tokens.py).
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from core import calendar
from core.models import ERASED_DOMAIN, Attendee, AttendeeStatus, MessageKind, OutgoingMessage
from core.qr import ticket_png
from core.selectors import waiting_position
from core.tickets import issue_ticket
from core.tokens import recover_token
from event_management_system.paths import API_PREFIX


class MessageObsolete(Exception):
    """The message has nothing left to say: the registration it is about was cancelled, or the
    waiting place it confirms became a seat, before it was sent; or its addressee's data was
    erased."""


@dataclass(frozen=True)
class Wording:
    subject: str
    # The opening sentence; `{event}` is the event's name.
    lead: str


WORDING = {
    MessageKind.REGISTERED: Wording(
        "Your seat at {event} is confirmed", "Your seat at {event} is confirmed."
    ),
    MessageKind.WAITLISTED: Wording(
        "You are on the waiting list for {event}",
        "{event} is full: you are on its waiting list, and get the next free seat in turn. "
        "We will write again when a seat is yours.",
    ),
    MessageKind.PROMOTED: Wording(
        "A seat at {event} is yours",
        "A seat at {event} has come free and is now yours: you were next on the waiting list.",
    ),
    MessageKind.CANCELLED: Wording(
        "Your registration for {event} is cancelled",
        "Your registration for {event} is cancelled, as you asked.",
    ),
    MessageKind.REMOVED: Wording(
        "Your registration for {event} was removed",
        "The organiser of {event} has removed your registration.",
    ),
    MessageKind.EVENT_CHANGED: Wording(
        "{event} has changed: updated invite",
        "The details of {event} have changed. The new ones are below, and the attached invite "
        "updates your calendar.",
    ),
    MessageKind.EVENT_CANCELLED: Wording(
        "{event} is cancelled",
        "{event} is cancelled by its organiser: it will not take place.",
    ),
    MessageKind.PENDING: Wording(
        "Your request for {event} awaits approval",
        "The organiser of {event} approves each registration: yours is received, and we will "
        "write again once they have decided.",
    ),
    MessageKind.APPROVED: Wording(
        "Your registration for {event} is approved",
        "The organiser of {event} has approved your registration.",
    ),
    MessageKind.DECLINED: Wording(
        "Your request for {event} was declined",
        "The organiser of {event} has declined your registration.",
    ),
}

# The messages about a registration that must still exist when they are sent.
# The emails that give a seat carry its ticket, as text and as a QR code (ticket.png).
CARRIES_TICKET = {MessageKind.REGISTERED, MessageKind.PROMOTED}
ABOUT_A_REGISTRATION = {
    MessageKind.REGISTERED,
    MessageKind.WAITLISTED,
    MessageKind.PROMOTED,
    MessageKind.EVENT_CHANGED,
    MessageKind.PENDING,
    MessageKind.APPROVED,
}


# The invite each kind of message carries for a seat.
INVITES = {
    MessageKind.REGISTERED: calendar.REQUEST,
    MessageKind.PROMOTED: calendar.REQUEST,
    MessageKind.APPROVED: calendar.REQUEST,
    MessageKind.EVENT_CHANGED: calendar.REQUEST,
    MessageKind.CANCELLED: calendar.CANCEL,
    MessageKind.REMOVED: calendar.CANCEL,
    MessageKind.EVENT_CANCELLED: calendar.CANCEL,
}


# What a header line cannot hold: control characters (CR, LF, VT, FF among them; DEL and the C1
# ones too) and Unicode's line and paragraph separators, each of which some reader takes for a
# line break.
_NOT_IN_A_HEADER = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def header_text(text: str) -> str:
    """`text` fit for one header line (a subject, a display name): each run of control
    characters and line separators becomes one space."""
    return _NOT_IN_A_HEADER.sub(" ", text).strip()


def mailbox(*, name: str, email: str) -> str:
    """The recipient `name <email>`, quoted by the standard library so that nothing in the name
    can add or change an address; the bare address when the name is empty, or when the address
    does not parse (the mail server is then the one to refuse it, as a failed send)."""
    try:
        return str(Address(display_name=header_text(name), addr_spec=email))
    except (ValueError, IndexError, HeaderParseError):
        return email


def format_utc(moment: datetime) -> str:
    """A moment for people: `Tuesday 1 December 2026, 18:00 UTC`."""
    moment = moment.astimezone(UTC)
    return f"{moment:%A} {moment.day} {moment:%B %Y, %H:%M} UTC"


def cancel_url(token: str) -> str:
    return f"{settings.PUBLIC_URL}/registrations/{token}/"


def render_message(message: OutgoingMessage) -> EmailMultiAlternatives:
    """The email `message` stands for, ready to send; raises MessageObsolete when it is about
    a registration that no longer exists, or a waiting place that is a seat by now (its
    promotion's email says so)."""
    event = message.event
    if message.email.endswith(f"@{ERASED_DOMAIN}"):
        raise MessageObsolete  # its addressee's data was erased: nobody to send it to
    attendee = None
    if message.kind in ABOUT_A_REGISTRATION:
        attendee = Attendee.objects.filter(pk=message.attendee_id, event_id=event.pk).first()
        if attendee is None:
            raise MessageObsolete
        if message.kind == MessageKind.WAITLISTED and attendee.status != AttendeeStatus.WAITLISTED:
            raise MessageObsolete
        if message.kind == MessageKind.PENDING and attendee.status != AttendeeStatus.PENDING:
            raise MessageObsolete  # decided already: the decision's email says so
    seated = attendee.status == AttendeeStatus.REGISTERED if attendee else message.seated
    token = (
        recover_token(nonce=attendee.token_nonce, token_hash=attendee.token_hash)
        if attendee
        else None
    )
    position = waiting_position(attendee=attendee) if attendee else None
    ticket = (
        issue_ticket(event_id=event.pk, registration_id=attendee.pk)
        if message.kind in CARRIES_TICKET and seated and not event.cancelled
        else None
    )
    wording = WORDING[message.kind]
    context = {
        "kind": message.kind,
        "name": message.name,
        "event": event,
        "lead": wording.lead.format(event=event.name),
        "starts": format_utc(event.start_time),
        "ends": format_utc(event.end_time),
        "seated": seated,
        "note": message.note,
        "position": position,
        "about_registration": attendee is not None,
        "cancel_url": cancel_url(token) if token else None,
        "api_url": f"{settings.PUBLIC_URL}{API_PREFIX}registrations/",
        "event_url": calendar.event_url(event),
        "ticket": ticket,
    }
    email = EmailMultiAlternatives(
        # Only the event's name, made one line: an attendee's name is quoted in the greeting,
        # never in a subject.
        subject=wording.subject.format(event=header_text(event.name)),
        body=render_to_string("mail/message.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[mailbox(name=message.name, email=message.email)],
    )
    email.attach_alternative(render_to_string("mail/message.html", context), "text/html")
    if ticket is not None:
        email.attach("ticket.png", ticket_png(ticket), "image/png")
    method = _invite_method(message.kind, seated=seated)
    if method is not None:
        ics = calendar.invite(
            event,
            name=message.name,
            email=message.email,
            cancel=method == calendar.CANCEL,
        )
        email.attach(
            "invite.ics",
            ics.decode(),
            f"text/calendar; method={method}",
        )
    return email


def _invite_method(kind: MessageKind, *, seated: bool) -> str | None:
    """Which invite the message carries: a request for a seat to put in a calendar, a cancel to
    withdraw one sent before; none for a waiting place, which has no invite."""
    if not seated:
        return None
    return INVITES.get(kind)
