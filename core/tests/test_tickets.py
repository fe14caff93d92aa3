"""Tickets: signed with each event's own Ed25519 key, verified offline, never forged."""

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from core.tickets import BadTicket, TicketClaim, issue_ticket, public_key, read_ticket


def test_a_ticket_names_its_event_and_registration_and_is_always_the_same():
    ticket = issue_ticket(event_id=7, registration_id=123456789)

    assert read_ticket(ticket) == TicketClaim(event_id=7, registration_id=123456789)
    assert issue_ticket(event_id=7, registration_id=123456789) == ticket
    assert len(ticket) == 108


def test_anyone_with_the_public_key_verifies_a_ticket():
    raw = base64.urlsafe_b64decode(issue_ticket(event_id=7, registration_id=1))

    Ed25519PublicKey.from_public_bytes(public_key(event_id=7)).verify(raw[17:], raw[:17])


@pytest.mark.parametrize("position", [0, 5, 12, 20, 40, 80, 107])
def test_a_ticket_altered_anywhere_is_refused(position):
    ticket = issue_ticket(event_id=7, registration_id=42)
    replacement = "B" if ticket[position] == "A" else "A"

    with pytest.raises(BadTicket):
        read_ticket(ticket[:position] + replacement + ticket[position + 1 :])


def test_a_ticket_moved_to_another_event_or_registration_is_refused():
    raw = base64.urlsafe_b64decode(issue_ticket(event_id=7, registration_id=42))
    signature = raw[17:]
    for payload in (
        bytes([1]) + (8).to_bytes(8) + (42).to_bytes(8),
        bytes([1]) + (7).to_bytes(8) + (43).to_bytes(8),
    ):
        with pytest.raises(BadTicket):
            read_ticket(base64.urlsafe_b64encode(payload + signature).decode())


def test_each_event_has_its_own_key_and_another_secret_makes_other_keys(settings):
    assert public_key(event_id=1) != public_key(event_id=2)
    ticket = issue_ticket(event_id=1, registration_id=1)
    before = public_key(event_id=1)

    settings.TICKET_SECRET = "another secret"

    assert public_key(event_id=1) != before
    with pytest.raises(BadTicket):
        read_ticket(ticket)


@pytest.mark.parametrize(
    "text",
    ["", "x", "A" * 107, "A" * 109, "A" * 104 + "====", "!" * 108, None, 12, b"A" * 108],
)
def test_what_is_not_a_ticket_is_refused(text):
    with pytest.raises(BadTicket):
        read_ticket(text)


def test_an_unknown_version_is_refused():
    raw = bytearray(base64.urlsafe_b64decode(issue_ticket(event_id=7, registration_id=42)))
    raw[0] = 2

    with pytest.raises(BadTicket):
        read_ticket(base64.urlsafe_b64encode(bytes(raw)).decode())
