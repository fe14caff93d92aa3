"""Tickets: a seat's proof, signed with its event's Ed25519 key, checked at the door offline.

A ticket is URL-safe Base64 (no padding) of 81 bytes: a version byte, the event's id and the
registration's id (8 bytes each, big-endian), then the Ed25519 signature of those 17 bytes.
Anyone holding the event's public key (`GET /api/events/{id}/checkin/key/`) verifies one; only
the holder of the private key signs one.

Each event's private key is derived from settings.TICKET_SECRET (DJANGO_TICKET_SECRET) and the
event's id, by HMAC-SHA256: it is never stored, so no database dump, backup or API answer holds
it, and a ticket is signed in Python after the registration's insert returns, without a read.
A ticket stays verifiable as long as TICKET_SECRET is kept. Ed25519 signing is deterministic:
one registration always has the same ticket, so a withdrawn one can be listed again later.
"""

import base64
import binascii
import functools
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

VERSION = 1
_PAYLOAD = struct.Struct(">BQQ")
SIGNATURE_BYTES = 64
TICKET_BYTES = _PAYLOAD.size + SIGNATURE_BYTES
# 81 bytes are exactly 108 Base64 characters: no padding, and no spare bits to spell a twin.
TICKET_LENGTH = 108
_TICKET_FORMAT = re.compile(rf"[A-Za-z0-9_-]{{{TICKET_LENGTH}}}")
# Separates this use of the secret from every other.
KEY_SALT = b"core.tickets.event-key"


@dataclass(frozen=True)
class TicketClaim:
    """What a ticket whose signature holds says: which registration of which event."""

    event_id: int
    registration_id: int


class BadTicket(ValueError):
    """Not a ticket: wrong shape, unknown version, or a signature that does not hold."""


def issue_ticket(*, event_id: int, registration_id: int) -> str:
    """The ticket of registration `registration_id` at event `event_id`."""
    payload = _PAYLOAD.pack(VERSION, event_id, registration_id)
    signature = _private_key(settings.TICKET_SECRET, event_id).sign(payload)
    return base64.urlsafe_b64encode(payload + signature).decode().rstrip("=")


def read_ticket(ticket: object) -> TicketClaim:
    """The claim of `ticket` once its signature is verified with its own event's key; raises
    BadTicket otherwise. Reads no database: a forged or malformed ticket costs no query."""
    if not isinstance(ticket, str) or not _TICKET_FORMAT.fullmatch(ticket):
        raise BadTicket("not a ticket")
    try:
        raw = base64.urlsafe_b64decode(ticket + "=" * (-len(ticket) % 4))
    except (binascii.Error, ValueError):
        raise BadTicket("not Base64") from None
    payload, signature = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    version, event_id, registration_id = _PAYLOAD.unpack(payload)
    if version != VERSION:
        raise BadTicket("unknown version")
    try:
        _private_key(settings.TICKET_SECRET, event_id).public_key().verify(signature, payload)
    except InvalidSignature:
        raise BadTicket("signature does not hold") from None
    return TicketClaim(event_id=event_id, registration_id=registration_id)


def public_key(*, event_id: int) -> bytes:
    """The event's raw 32-byte Ed25519 public key."""
    return (
        _private_key(settings.TICKET_SECRET, event_id)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def public_key_pem(*, event_id: int) -> str:
    """The event's public key as PEM (SubjectPublicKeyInfo), as most libraries read it."""
    return (
        _private_key(settings.TICKET_SECRET, event_id)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def ticket_fingerprint(ticket: str) -> str:
    """SHA-256 hex of `ticket`: what a scan's nonce remembers of the ticket it was sent with."""
    return hashlib.sha256(ticket.encode()).hexdigest()


# Deriving a key (two HMACs and the public point) costs about as much as a signature; a kept one
# about half a kilobyte. 8,192 keep the keys of every event a large catalogue sells at once.
@functools.lru_cache(maxsize=8192)
def _private_key(secret: str, event_id: int) -> Ed25519PrivateKey:
    key = hmac.new(KEY_SALT, secret.encode(), hashlib.sha256).digest()
    seed = hmac.new(key, b"event:%d" % event_id, hashlib.sha256).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)
