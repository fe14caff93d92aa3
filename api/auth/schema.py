"""The OpenAPI description of signing in for a bearer token and revoking it."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema_view
from knox.settings import knox_settings

from api.auth.lockout import locked_out_message
from api.auth.serializers import CredentialsSerializer, TokenSerializer
from api.authentication import INVALID_CREDENTIALS_MESSAGE
from api.openapi import (
    ErrorCase,
    documented,
    invalid,
    not_authenticated,
    rate_in_words,
    throttled,
)

INVALID_CREDENTIALS = ErrorCase(
    401,
    "invalid_credentials",
    "The username and password are not those of an active user. An unknown username gets the "
    "same answer, after the same work, as a wrong password.",
    INVALID_CREDENTIALS_MESSAGE,
)

LOCKED_OUT = ErrorCase(
    403,
    "locked_out",
    "Too many failed sign-ins for this username from this address (`DJANGO_AXES_FAILURE_LIMIT`, "
    "the admin's counted too): refused, the right password too, until the cool-off ends "
    "(`DJANGO_AXES_COOLOFF_MINUTES`) or `manage.py axes_reset` lifts it. The failure that "
    "reaches the limit answers this already.",
    locked_out_message(),
)

token_view_schema = extend_schema_view(
    post=documented(
        operation_id="auth_token_create",
        summary="Get a token",
        description=(
            "Exchanges an organiser's username and password for a bearer token, to send as "
            "`Authorization: Bearer <token>`. The token is shown once: the server keeps only its "
            "hash. Each call issues another token; each expires on its own "
            f"(`DJANGO_TOKEN_TTL_DAYS`, {knox_settings.TOKEN_TTL.days} days by default). A token "
            "sent along is ignored."
        ),
        request=CredentialsSerializer,
        responses={201: OpenApiResponse(TokenSerializer, "A new token and when it expires.")},
        errors=[
            invalid(
                "`username` or `password` is missing or blank, or the body is not a JSON object.",
                password=["This field is required."],
            ),
            INVALID_CREDENTIALS,
            LOCKED_OUT,
            throttled(
                f"token requests per client address ({rate_in_words('token')} unless configured "
                "otherwise)"
            ),
        ],
        examples=[
            OpenApiExample(
                "Nina signs in",
                value={"username": "nina", "password": "correct horse battery staple"},
                request_only=True,
            ),
            OpenApiExample(
                "Nina's token",
                value={
                    "token": "3f0c9a5e7b1d4c2a8e6f0b9d7c5a3e1f2b4d6f8a0c2e4a6b8d0f2a4c6e8b0d2f",
                    "expires_at": "2031-04-14T18:00:00.123456Z",
                },
                response_only=True,
            ),
        ],
        reads_token=False,
    ),
    delete=documented(
        operation_id="auth_token_destroy",
        summary="Revoke the token",
        description=(
            "Revokes the token this request is sent with: from now on it answers 401. The "
            "user's other tokens keep working."
        ),
        responses={204: OpenApiResponse(description="Revoked.")},
        errors=[not_authenticated("No token was sent.")],
    ),
)
