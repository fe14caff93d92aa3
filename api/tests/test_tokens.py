"""Bearer tokens over HTTP: issued for a username and password, used, expired, revoked, and
kept only as a hash."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connection
from django.db.models import F
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

TOKEN = "/api/auth/token/"
MINE = "/api/me/events/"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def nina(organiser_factory):
    user = organiser_factory(username="nina")
    user.set_password(PASSWORD)
    user.save()
    return user


def sign_in(client, username="nina", password=PASSWORD):
    return client.post(TOKEN, {"username": username, "password": password}, format="json")


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_username_and_password_get_a_token_that_works(api_client, nina):
    before = timezone.now()
    response = sign_in(api_client)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    expires_at = AuthToken.objects.get(user=nina).expiry
    assert before + timedelta(days=30) <= expires_at <= timezone.now() + timedelta(days=30)
    assert body["expires_at"] == expires_at.isoformat().replace("+00:00", "Z")
    assert bearer(body["token"]).get(MINE).status_code == 200
    assert api_client.get(MINE).status_code == 401


def test_the_token_lifetime_follows_the_setting(api_client, nina, settings):
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": timedelta(days=7)}

    sign_in(api_client)

    expiry = AuthToken.objects.get(user=nina).expiry
    assert abs(expiry - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)


def token_ttl_under(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings;"
         " print(settings.REST_KNOX['TOKEN_TTL'].days)"],
        env={**clean, "DJANGO_SETTINGS_MODULE": "event_management_system.settings", **env},
        cwd=django_settings.BASE_DIR, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_django_token_ttl_days_sets_the_lifetime_and_refuses_nonsense():
    assert token_ttl_under({}).stdout.strip() == "30"
    assert token_ttl_under({"DJANGO_TOKEN_TTL_DAYS": "7"}).stdout.strip() == "7"
    for nonsense in ("0", "-3", "a week"):
        refused = token_ttl_under({"DJANGO_TOKEN_TTL_DAYS": nonsense})
        assert refused.returncode != 0, nonsense
        assert "DJANGO_TOKEN_TTL_DAYS must be a whole number of days from 1" in refused.stderr


class CountingHasher(MD5PasswordHasher):
    """MD5, counting every password it hashes: what a sign-in costs."""

    hashed = 0

    def encode(self, password, salt):
        CountingHasher.hashed += 1
        return super().encode(password, salt)


@pytest.mark.parametrize(
    ("username", "password", "active"),
    [("nina", "wrong password", True), ("nobody", PASSWORD, True), ("nina", PASSWORD, False)],
    ids=["wrong password", "unknown user", "inactive user"],
)
def test_wrong_credentials_get_one_answer_at_one_cost(
    api_client, nina, settings, username, password, active
):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    nina.set_password(PASSWORD)
    nina.is_active = active
    nina.save()
    CountingHasher.hashed = 0

    response = sign_in(api_client, username, password)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json() == {
        "detail": "Unable to sign in with the username and password given.",
        "code": "invalid_credentials",
    }
    # An unknown user costs one hash too, so the time taken tells nothing.
    assert CountingHasher.hashed == 1
    assert not AuthToken.objects.exists()


LOCKED_OUT = {
    "detail": (
        "Too many failed sign-ins for this username from this address: it is locked out for "
        "15 minutes, as at the admin's sign-in."
    ),
    "code": "locked_out",
}


def test_wrong_passwords_lock_the_username_out_of_the_api_as_of_the_admin(api_client, nina):
    """The admin's rule: the limit's failure locks the username out from that address, even
    with the right password, in the API's JSON (never the admin's lock-out page)."""
    limit = django_settings.AXES_FAILURE_LIMIT
    answers = [sign_in(api_client, password=f"guess-{i}") for i in range(limit + 2)]
    right = sign_in(api_client)

    assert [answer.status_code for answer in answers] == [401] * (limit - 1) + [403] * 3
    assert {answer.json()["code"] for answer in answers[: limit - 1]} == {"invalid_credentials"}
    for answer in [*answers[limit - 1 :], right]:
        assert answer.status_code == 403
        assert answer.json() == LOCKED_OUT
    assert not AuthToken.objects.exists()
    # The admin refuses the same username from the same address.
    admin = Client().post("/admin/login/?next=/admin/", {"username": "nina", "password": PASSWORD})
    assert admin.status_code == 429
    # Another address is not locked out.
    assert sign_in(APIClient(REMOTE_ADDR="198.51.100.20")).status_code == 201


def test_a_username_locked_out_at_the_admin_gets_no_token(api_client, nina):
    admin = Client()
    for i in range(django_settings.AXES_FAILURE_LIMIT):
        admin.post("/admin/login/?next=/admin/", {"username": "nina", "password": f"guess-{i}"})

    refused = sign_in(api_client)

    assert refused.status_code == 403
    assert refused.json() == LOCKED_OUT
    assert not AuthToken.objects.exists()


def test_a_lock_out_ends_with_its_cool_off(api_client, nina):
    for i in range(django_settings.AXES_FAILURE_LIMIT):
        sign_in(api_client, password=f"guess-{i}")
    assert sign_in(api_client).status_code == 403

    AccessAttempt.objects.update(attempt_time=F("attempt_time") - django_settings.AXES_COOLOFF_TIME)

    assert sign_in(api_client).status_code == 201


@pytest.mark.parametrize(
    "body", [{}, {"username": "nina"}, {"username": "", "password": ""}, ["nina", PASSWORD]]
)
def test_a_sign_in_without_both_fields_is_invalid(api_client, nina, body):
    response = api_client.post(TOKEN, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_a_password_is_taken_as_typed(api_client, nina):
    assert sign_in(api_client, password=f" {PASSWORD} ").status_code == 401


def test_a_stale_token_sent_along_does_not_stop_a_sign_in(nina):
    # A client that adds its token to every request, as a Postman collection does.
    response = sign_in(bearer("0" * 64))

    assert response.status_code == 201


def test_each_sign_in_is_a_token_of_its_own_and_revoking_one_keeps_the_others(api_client, nina):
    laptop, phone = sign_in(api_client).json()["token"], sign_in(api_client).json()["token"]
    assert laptop != phone
    assert AuthToken.objects.filter(user=nina).count() == 2

    response = bearer(laptop).delete(TOKEN)

    assert response.status_code == 204
    assert response.content == b""
    revoked = bearer(laptop).get(MINE)
    assert (revoked.status_code, revoked.json()["code"]) == (401, "authentication_failed")
    assert revoked["WWW-Authenticate"] == "Bearer"
    assert bearer(phone).get(MINE).status_code == 200
    assert AuthToken.objects.filter(user=nina).count() == 1


def test_revoking_needs_a_token(api_client):
    response = api_client.delete(TOKEN)

    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"


def test_an_expired_token_no_longer_works(api_client, nina):
    token = sign_in(api_client).json()["token"]
    # A month on: the token's expiry has passed.
    AuthToken.objects.filter(user=nina).update(expiry=timezone.now() - timedelta(seconds=1))

    response = bearer(token).get(MINE)

    assert (response.status_code, response.json()["code"]) == (401, "authentication_failed")
    assert not AuthToken.objects.exists()  # and it is gone


def test_a_token_of_a_deactivated_user_no_longer_works(api_client, nina):
    token = sign_in(api_client).json()["token"]
    nina.is_active = False
    nina.save()

    assert bearer(token).get(MINE).status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer not a token",
        "Bearer zz" + "0" * 62,
        "Bearer " + "0" * 63,
        "Bearer " + "0" * 4000,
        "Bearer \u00e9\u00e9",
        "Bearer \x00" + "0" * 63,
    ],
    ids=["no token", "spaces", "not hex", "too short", "too long", "not ascii", "nul"],
)
def test_a_malformed_token_is_a_401(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/events/")

    assert (response.status_code, response.json()["code"]) == (401, "authentication_failed")


def test_a_token_is_sent_with_the_bearer_keyword_only(api_client, nina):
    token = sign_in(api_client).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    response = client.get(MINE)

    # Another scheme's header is not ours to read: the caller is anonymous.
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def database_dump() -> str:
    """Every row of every table, as text."""
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            rows.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(rows)


def test_the_token_is_stored_nowhere_only_its_hash(api_client, nina):
    token = sign_in(api_client).json()["token"]

    dump = database_dump()

    assert AuthToken.objects.get(user=nina).digest in dump  # the dump holds the token's row
    assert token not in dump
    assert token.upper() not in dump.upper()
