"""`manage.py create_organiser`: an organiser and a token, in one command a script can read."""

import io
import os
import re
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from testing.servers import PROJECT_DIR, database_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

TOKEN = re.compile(r"[0-9a-f]{64}")
PASSWORD = "correct horse battery staple"


def create_organiser(*args) -> tuple[list[str], str]:
    """Run the command; its standard output's lines and its standard error."""
    out, err = io.StringIO(), io.StringIO()
    call_command("create_organiser", *args, stdout=out, stderr=err)
    return out.getvalue().splitlines(), err.getvalue()


def works(token: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get("/api/me/events/").status_code == 200


def sign_in(username: str, password: str) -> int:
    body = {"username": username, "password": password}
    return APIClient().post("/api/auth/token/", body, format="json").status_code


def test_creates_an_organiser_and_prints_a_working_token_alone_on_the_last_line(monkeypatch):
    monkeypatch.delenv("ORGANISER_PASSWORD", raising=False)

    lines, log = create_organiser("nina", "--email", "nina@example.com")

    assert len(lines) == 1
    assert TOKEN.fullmatch(lines[-1])
    assert works(lines[-1])
    assert "nina" in log
    nina = get_user_model().objects.get(username="nina")
    assert nina.email == "nina@example.com"
    assert not nina.has_usable_password()  # no password given: tokens only
    organisers = Group.objects.get(name="organisers")
    assert list(nina.groups.all()) == [organisers]
    assert organisers.permissions.filter(codename="add_event").exists()


def test_organiser_password_sets_the_new_users_password(monkeypatch):
    monkeypatch.setenv("ORGANISER_PASSWORD", PASSWORD)

    create_organiser("nina")

    assert sign_in("nina", PASSWORD) == 201


def test_a_rerun_adds_a_token_and_keeps_the_user_and_their_password(monkeypatch):
    monkeypatch.setenv("ORGANISER_PASSWORD", PASSWORD)
    first, _ = create_organiser("nina")
    monkeypatch.setenv("ORGANISER_PASSWORD", "another long passphrase")

    second, log = create_organiser("nina")

    assert first[-1] != second[-1]
    assert works(first[-1])
    assert works(second[-1])
    assert get_user_model().objects.filter(username="nina").count() == 1
    assert "password is unchanged" in log
    assert sign_in("nina", PASSWORD) == 201


def test_an_existing_user_becomes_an_organiser(user_factory, settings):
    settings.API_OPEN_ACCESS = False
    user_factory(username="nina")

    lines, _ = create_organiser("nina")

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {lines[-1]}")
    event = {
        "name": "Launch", "location": "Dock 5", "max_capacity": 5,
        "start_time": "2031-03-15T09:00:00Z", "end_time": "2031-03-15T12:00:00Z",
    }  # fmt: skip
    assert client.post("/api/events/", event, format="json").status_code == 201


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("nina", "12345678", "This password is too common."),
        ("ninasmith", "ninasmith1", "The password is too similar to the username."),
        ("nina smith", PASSWORD, "Enter a valid username."),
    ],
)
def test_a_weak_password_or_a_bad_username_creates_nothing(
    monkeypatch, username, password, message
):
    monkeypatch.setenv("ORGANISER_PASSWORD", password)

    with pytest.raises(CommandError, match=message):
        create_organiser(username)

    assert not get_user_model().objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_script_reads_the_token_from_the_last_line_of_standard_output():
    env = {**os.environ, "DATABASE_URL": database_url()}
    env.pop("ORGANISER_PASSWORD", None)

    result = subprocess.run(
        [sys.executable, "manage.py", "create_organiser", "nina"],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert TOKEN.fullmatch(result.stdout.splitlines()[-1])
    assert result.stdout == result.stdout.splitlines()[-1] + "\n"  # the token alone
    assert "nina" in result.stderr
    assert works(result.stdout.strip())
