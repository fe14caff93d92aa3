"""Who is calling: an organiser's bearer token (django-rest-knox), or nobody.

A request without `Authorization: Bearer …` is anonymous, decided without reading the database.
"""

import re

from django.utils.translation import gettext_lazy as _
from knox.auth import TokenAuthentication
from knox.settings import knox_settings
from rest_framework.exceptions import AuthenticationFailed

INVALID_CREDENTIALS_MESSAGE = "Unable to sign in with the username and password given."


def token_format() -> re.Pattern[bytes]:
    """What knox issues: the configured prefix, then hexadecimal digits."""
    prefix = re.escape(knox_settings.TOKEN_PREFIX.encode())
    return re.compile(prefix + rb"[0-9a-f]{%d}" % knox_settings.AUTH_TOKEN_CHARACTER_LENGTH)


class BearerTokenAuthentication(TokenAuthentication):
    """Knox's hashed tokens; a value that cannot be one is refused before any lookup."""

    def authenticate_credentials(self, token: bytes):
        # Bytes that are not UTF-8, or a NUL, would fail in knox's decoding or in the database
        # driver, as a 500 instead of a 401.
        if not token_format().fullmatch(token):
            raise AuthenticationFailed(_("Invalid token."))
        return super().authenticate_credentials(token)
