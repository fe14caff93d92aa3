"""Who is calling: an organiser's bearer token (django-rest-knox), a door device's, or nobody.

A request without `Authorization: Bearer …` is anonymous, decided without reading the database.
A door device's token (api/tokens.py) makes no user: `request.user` stays None and
`request.auth` is the Device, which only api.permissions.IsEventDevice lets in.
"""

import re

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.settings import knox_settings
from rest_framework.exceptions import AuthenticationFailed

from api.tokens import DEVICE_TOKEN_PREFIX
from core.checkin import working_devices

INVALID_CREDENTIALS_MESSAGE = "Unable to sign in with the username and password given."


def token_format() -> re.Pattern[bytes]:
    """What knox issues: the configured prefix, then hexadecimal digits."""
    prefix = re.escape(knox_settings.TOKEN_PREFIX.encode())
    return re.compile(prefix + rb"[0-9a-f]{%d}" % knox_settings.AUTH_TOKEN_CHARACTER_LENGTH)


def device_token_format() -> re.Pattern[bytes]:
    """What api.tokens.issue_device_token issues."""
    prefix = re.escape(DEVICE_TOKEN_PREFIX.encode())
    return re.compile(prefix + rb"[0-9a-f]{%d}" % knox_settings.AUTH_TOKEN_CHARACTER_LENGTH)


class BearerTokenAuthentication(TokenAuthentication):
    """Knox's hashed tokens; a value that cannot be one is refused before any lookup."""

    def authenticate_credentials(self, token: bytes):
        # Bytes that are not UTF-8, or a NUL, would fail in knox's decoding or in the database
        # driver, as a 500 instead of a 401.
        if device_token_format().fullmatch(token):
            return self.authenticate_device(token.decode())
        if not token_format().fullmatch(token):
            raise AuthenticationFailed(_("Invalid token."))
        return super().authenticate_credentials(token)

    def authenticate_device(self, token: str):
        """No user, and the device as the credential: one query, by the token's hash."""
        device = (
            working_devices(now=timezone.now())
            .only("event_id", "name")
            .filter(token_hash=hash_token(token))
            .first()
        )
        if device is None:
            raise AuthenticationFailed(_("Invalid token."))
        return None, device
