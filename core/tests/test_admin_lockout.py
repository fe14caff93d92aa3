"""Guessing admin passwords: a username is locked out from an address after a few failures."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.db.models import F

pytestmark = pytest.mark.django_db

PASSWORD = "organiser-password"
ATTACKER, OFFICE, PROXY = "203.0.113.7", "198.51.100.20", "10.0.0.254"
LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def organiser(fast_passwords, django_user_model):
    return django_user_model.objects.create_superuser("organiser", "o@example.com", PASSWORD)


def sign_in(
    client, password: str, *, username: str = "organiser", address: str = ATTACKER, **headers
):
    return client.post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address, **headers
    )


def signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def guess_thirty_times(client) -> list[int]:
    return [sign_in(client, f"guess-{i}").status_code for i in range(30)]


@pytest.mark.usefixtures("organiser")
def test_thirty_wrong_passwords_lock_the_username_out_even_with_the_right_one(client):
    statuses = guess_thirty_times(client)
    right = sign_in(client, PASSWORD)

    assert right.status_code == 429
    assert "is locked after" in right.content.decode()
    assert client.get("/admin/").status_code == 302  # still signed out
    limit = settings.AXES_FAILURE_LIMIT
    assert statuses[: limit - 1] == [200] * (limit - 1)  # the form again, with its error
    assert statuses[limit - 1 :] == [429] * (31 - limit)


@pytest.mark.usefixtures("organiser")
def test_the_lock_holds_for_that_username_from_that_address_only(client, django_user_model):
    django_user_model.objects.create_superuser("colleague", "c@example.com", PASSWORD)
    guess_thirty_times(client)

    assert signed_in(sign_in(client, PASSWORD, address=OFFICE))
    client.logout()
    assert signed_in(sign_in(client, PASSWORD, username="colleague"))


@pytest.mark.usefixtures("organiser")
def test_staff_see_the_lock_out_in_the_admin(client, admin_client):
    guess_thirty_times(client)

    page = admin_client.get("/admin/axes/accessattempt/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "organiser" in text
    assert ATTACKER in text


@pytest.mark.usefixtures("organiser")
def test_axes_reset_lifts_the_lock(client):
    guess_thirty_times(client)
    assert sign_in(client, PASSWORD).status_code == 429

    call_command("axes_reset", stdout=None)

    assert signed_in(sign_in(client, PASSWORD))


@pytest.mark.usefixtures("organiser")
def test_the_lock_ends_after_the_cool_off(client):
    guess_thirty_times(client)
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )

    assert signed_in(sign_in(client, PASSWORD))


@pytest.mark.usefixtures("organiser")
def test_a_sign_in_after_a_few_failures_starts_the_count_afresh(client):
    limit = settings.AXES_FAILURE_LIMIT
    for i in range(limit - 1):
        sign_in(client, f"guess-{i}")
    assert signed_in(sign_in(client, PASSWORD))
    client.logout()

    statuses = [sign_in(client, f"again-{i}").status_code for i in range(limit - 1)]

    assert statuses == [200] * (limit - 1)


@pytest.mark.usefixtures("organiser")
def test_behind_a_trusted_proxy_the_lock_follows_the_forwarded_address(client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    def via_proxy(password: str, client_address: str):
        return sign_in(client, password, address=PROXY, HTTP_X_FORWARDED_FOR=client_address)

    for i in range(30):
        via_proxy(f"guess-{i}", ATTACKER)

    assert via_proxy(PASSWORD, ATTACKER).status_code == 429
    assert signed_in(via_proxy(PASSWORD, OFFICE))


@pytest.mark.usefixtures("organiser")
def test_a_forwarded_address_that_is_not_one_counts_as_the_proxy(client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    response = sign_in(client, "guess", address=PROXY, HTTP_X_FORWARDED_FOR="not-an-address")

    assert response.status_code == 200
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [PROXY]
