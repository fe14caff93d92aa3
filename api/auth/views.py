"""Signing in: a username and password exchanged for a bearer token, and the token revoked."""

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_credentials
from django.contrib.auth import authenticate
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api.auth.lockout import locked_out_message
from api.auth.schema import token_view_schema
from api.auth.serializers import CredentialsSerializer, TokenSerializer
from api.authentication import INVALID_CREDENTIALS_MESSAGE, BearerTokenAuthentication
from api.tokens import issue_token


@token_view_schema
class TokenView(APIView):
    """Exchange a username and password for a bearer token (POST); revoke it (DELETE)."""

    throttle_scope = "token"

    def signing_in(self) -> bool:
        # The schema generator asks for authenticators before it sets a request.
        return getattr(self.request, "method", None) == "POST"

    def get_authenticators(self):
        # A sign-in is its username and password: a stale token sent along, as by a client
        # that adds one to every request, must not refuse it.
        return [] if self.signing_in() else super().get_authenticators()

    def get_permissions(self):
        return [AllowAny()] if self.signing_in() else [IsAuthenticated()]

    def get_authenticate_header(self, request):
        # Also for POST, which reads no token: a refused sign-in is a 401 that says how.
        return BearerTokenAuthentication().authenticate_header(request)

    def post(self, request):
        credentials = CredentialsSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        # Django hashes the password given even for an unknown username, so a wrong name
        # costs what a wrong password does.
        # django-axes counts every failure and its backend refuses a locked-out username here,
        # the right password too: one rule for the API and the admin (settings.AXES_*).
        user = authenticate(request, **credentials.validated_data)
        if user is None:
            if AxesProxyHandler.is_locked(request, get_credentials(**credentials.validated_data)):
                raise PermissionDenied(locked_out_message(), code="locked_out")
            raise AuthenticationFailed(INVALID_CREDENTIALS_MESSAGE, code="invalid_credentials")
        issued = issue_token(user=user)
        return Response(TokenSerializer(issued).data, status=status.HTTP_201_CREATED)

    def delete(self, request):
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
