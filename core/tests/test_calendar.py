"""The iCalendar the feeds serve, as a calendar client reads it over HTTP: text as RFC 5545
allows it, whatever an event's name and place hold. (The invites emails carry:
api/tests/test_mail_recipients.py.)"""

import re

import icalendar
import pytest

from core.calendar import parameter_value, text_value

pytestmark = pytest.mark.django_db

# What an RFC 5545 content line may not hold (3.1, 3.3.11): control characters but HTAB, CRLF
# ending a line.
FORBIDDEN_CONTROLS = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")

# No NUL: PostgreSQL stores none.
NAME = "Launch\x0bparty\x0c\x01night\x1b\x7f\x85!"
LOCATION = "Hall\tA\r\nupstairs\x0b"


def content_lines(response) -> list[bytes]:
    assert response.status_code == 200, response
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body.endswith(b"\r\n")
    return body[: -len(b"\r\n")].split(b"\r\n")


@pytest.mark.parametrize("path", ["/api/events.ics", "/api/events/{id}/event.ics"])
def test_a_feed_writes_no_control_character_rfc_5545_forbids(api_client, event_factory, path):
    event = event_factory(name=NAME, location=LOCATION)
    lines = content_lines(api_client.get(path.format(id=event.pk)))

    for line in lines:
        assert not FORBIDDEN_CONTROLS.search(line), line
    (vevent,) = icalendar.Calendar.from_ical(b"\r\n".join(lines)).walk("VEVENT")
    assert str(vevent["SUMMARY"]) == "Launch party night !"
    # A tab is allowed, a line break is escaped and read back.
    assert str(vevent["LOCATION"]) == "Hall\tA\nupstairs "


@pytest.mark.parametrize(
    ("value", "text", "parameter"),
    [
        ("Ada Lovelace", "Ada Lovelace", "Ada Lovelace"),
        ('Lovelace, Ada; "Countess" \\ 王', 'Lovelace, Ada; "Countess" \\ 王', None),
        ("a\tb", "a\tb", "a\tb"),
        ("a\r\nb\nc\rd", "a\r\nb\nc\rd", "a b c d"),
        ("a\x0b\x0cb\x00c\x1bd\x7fe\x85f", "a b c d e f", "a b c d e f"),
        ("a\u2028b", "a\u2028b", "a b"),
        ("\x0bpadded\x0c", " padded ", "padded"),
    ],
)
def test_text_and_parameters_keep_what_rfc_5545_allows(value, text, parameter):
    assert text_value(value) == text
    assert parameter_value(value) == (value if parameter is None else parameter)
