"""iCalendar (RFC 5545) for events: the invites emails carry and the calendar feeds.

One VEVENT per event, whatever carries it: its UID is stable (the event's id at the site's
host), its SEQUENCE the event's, which grows when the name, place or times change, so a
calendar replaces the copy it holds. Text is written as RFC 5545 allows it (3.3.11, 3.1): no
control character but a tab in a TEXT value (line breaks are kept, escaped as `\\n`), none at all
in a parameter such as a name (CN).
"""

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from email.utils import parseaddr
from urllib.parse import urlsplit

import icalendar
from django.conf import settings
from django.utils import timezone

from core.models import Event
from event_management_system.paths import API_PREFIX

PRODID = "-//Events API//Events//EN"
REQUEST = "REQUEST"
CANCEL = "CANCEL"
PUBLISH = "PUBLISH"
CONTENT_TYPE = "text/calendar; charset=utf-8"


# Control characters a TEXT value may not hold: all but HTAB, and CR and LF (which icalendar
# escapes); the C1 ones too, which some readers take for line breaks.
_NOT_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]+")
# And a parameter value holds no line break either.
_NOT_IN_PARAMETER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]+")


def text_value(value: str) -> str:
    """`value` fit for a TEXT property (SUMMARY, LOCATION, DESCRIPTION): each run of forbidden
    control characters becomes one space."""
    return _NOT_IN_TEXT.sub(" ", value)


def parameter_value(value: str) -> str:
    """`value` fit for a parameter (a CN), on one line: each run of control characters and line
    separators becomes one space."""
    return _NOT_IN_PARAMETER.sub(" ", value).strip()


def event_uid(event: Event) -> str:
    """The UID of `event` in every calendar: the same for its invites and its feed entries."""
    host = urlsplit(settings.PUBLIC_URL).hostname or "localhost"
    return f"event-{event.pk}@{host}"


def event_url(event: Event) -> str:
    return f"{settings.PUBLIC_URL}{API_PREFIX}events/{event.pk}/"


def vevent(
    event: Event,
    *,
    cancelled: bool = False,
    attendee: tuple[str, str] | None = None,
    now: datetime | None = None,
) -> icalendar.Event:
    """`event` as a VEVENT; `cancelled` marks it withdrawn, `attendee` (name, email) names whom
    an invite is for."""
    component = icalendar.Event()
    component.add("uid", event_uid(event))
    component.add("dtstamp", (now or timezone.now()).astimezone(UTC))
    component.add("sequence", event.sequence)
    component.add("summary", text_value(event.name))
    component.add("location", text_value(event.location))
    component.add("dtstart", event.start_time.astimezone(UTC))
    component.add("dtend", event.end_time.astimezone(UTC))
    component.add("url", event_url(event))
    component.add("status", "CANCELLED" if cancelled or event.cancelled else "CONFIRMED")
    organizer = icalendar.vCalAddress(f"mailto:{parseaddr(settings.DEFAULT_FROM_EMAIL)[1]}")
    component.add("organizer", organizer)
    if attendee is not None:
        name, email = attendee
        address = icalendar.vCalAddress(f"mailto:{email}")
        address.params["CN"] = parameter_value(name)
        address.params["ROLE"] = "REQ-PARTICIPANT"
        component.add("attendee", address)
    return component


def invite(event: Event, *, name: str, email: str, cancel: bool = False) -> bytes:
    """The .ics an email carries: METHOD:REQUEST to add or update the event in the recipient's
    calendar, or with `cancel` METHOD:CANCEL to withdraw it."""
    calendar = _calendar(CANCEL if cancel else REQUEST)
    calendar.add_component(vevent(event, cancelled=cancel, attendee=(name, email)))
    return calendar.to_ical()


def feed(events: Iterable[Event]) -> Iterator[bytes]:
    """A METHOD:PUBLISH calendar of `events`, in pieces, one event at a time: a feed of any
    length is written without holding it all."""
    head, _, tail = _calendar(PUBLISH).to_ical().rpartition(b"END:VCALENDAR")
    yield head
    now = timezone.now()
    for event in events:
        yield vevent(event, now=now).to_ical()
    yield b"END:VCALENDAR" + tail


def _calendar(method: str) -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    return calendar
