"""The shape of signing in: a username and password in, a bearer token out."""

from rest_framework import serializers

from api.fields import DateTimeField


class CredentialsSerializer(serializers.Serializer):
    """A username and password, exchanged for a bearer token."""

    username = serializers.CharField(max_length=150)
    # As typed: spaces at either end are part of a password.
    password = serializers.CharField(
        max_length=1024, trim_whitespace=False, write_only=True, style={"input_type": "password"}
    )


class TokenSerializer(serializers.Serializer):
    """A new bearer token and when it stops working."""

    token = serializers.CharField(
        help_text="Send it as `Authorization: Bearer <token>`. Shown once: only its hash is kept."
    )
    expires_at = DateTimeField()
