"""Issuing bearer tokens: knox keeps a hash of each, and the token itself is shown once.

Here rather than in core, which never imports DRF: knox is built on it.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from knox.crypto import create_token_string, hash_token
from knox.models import get_token_model

# A door device's token: this prefix, then knox's hexadecimal. An organiser's has no prefix.
DEVICE_TOKEN_PREFIX = "door_"


@dataclass(frozen=True)
class IssuedToken:
    """A new token, to hand to its user now: only its hash is stored."""

    token: str
    expires_at: datetime


def issue_token(*, user: AbstractBaseUser) -> IssuedToken:
    """A fresh token for `user`, expiring after knox's TOKEN_TTL; other tokens stay valid."""
    record, token = get_token_model().objects.create(user=user)
    return IssuedToken(token=token, expires_at=record.expiry)


def issue_device_token() -> tuple[str, str]:
    """A fresh door device's token and the hash to store for it (knox's, as for organisers')."""
    token = DEVICE_TOKEN_PREFIX + create_token_string()
    return token, hash_token(token)
