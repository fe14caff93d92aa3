"""Safe retries over HTTP: an `Idempotency-Key` makes a repeated creating POST answer as the
first did, without doing it twice."""

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from api.registrations import views
from core.models import Attendee, Event, IdempotencyKey
from testing.bodies import new_event

pytestmark = pytest.mark.django_db

ADA = {"name": "Ada Lovelace", "email": "ada@example.com"}
BOB = {"name": "Bob Babbage", "email": "bob@example.com"}


def register(client, event_id, body=ADA, key="retry-1", **headers):
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(f"/api/events/{event_id}/register/", body, format="json", **headers)


def create(client, body, key="create-1"):
    return client.post("/api/events/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_retried_registration_gets_the_first_answer_and_registers_once(api_client, event_factory):
    event = event_factory()

    first = register(api_client, event.pk)
    retry = register(api_client, event.pk)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.content == first.content
    assert retry["Content-Type"] == first["Content-Type"] == "application/json"
    assert retry["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Attendee.objects.filter(event=event).count() == 1
    event.refresh_from_db()
    assert event.seats_taken == 1


def test_a_retried_event_creation_gets_the_first_answer_and_creates_once(settings, api_client):
    settings.API_OPEN_ACCESS = True
    body = new_event()

    first = create(api_client, body)
    retry = create(api_client, body)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert Event.objects.count() == 1


def test_without_a_key_a_retry_is_a_new_request(api_client, event_factory):
    event = event_factory()

    register(api_client, event.pk, key=None)
    retry = register(api_client, event.pk, key=None)

    assert retry.status_code == 409
    assert retry.json()["code"] == "already_registered"
    assert not retry.has_header("Idempotent-Replayed")


@pytest.mark.parametrize(
    "second",
    [
        pytest.param({"body": BOB}, id="another body"),
        pytest.param({"path": "/api/events/{other}/register/"}, id="another event"),
        pytest.param({"path": "/api/events/{event}/register/?tz=Asia/Kolkata"}, id="another query"),
    ],
)
def test_one_key_for_another_request_answers_422_and_changes_nothing(
    api_client, event_factory, second
):
    event, other = event_factory(), event_factory()
    register(api_client, event.pk)

    path = second.get("path", "/api/events/{event}/register/").format(
        event=event.pk, other=other.pk
    )
    response = api_client.post(
        path, second.get("body", ADA), format="json", HTTP_IDEMPOTENCY_KEY="retry-1"
    )

    assert response.status_code == 422
    assert response.json() == {
        "detail": "This Idempotency-Key was already used for another request; use a new key "
        "for a new request.",
        "code": "idempotency_key_reused",
    }
    assert Attendee.objects.count() == 1


def test_keys_are_the_callers_own(event_factory):
    event = event_factory()
    alice, bob = APIClient(REMOTE_ADDR="203.0.113.7"), APIClient(REMOTE_ADDR="203.0.113.8")

    first = register(alice, event.pk, ADA)
    other = register(bob, event.pk, BOB)

    assert (first.status_code, other.status_code) == (201, 201)
    assert not other.has_header("Idempotent-Replayed")
    assert set(Attendee.objects.values_list("email", flat=True)) == {
        "ada@example.com",
        "bob@example.com",
    }


def test_an_organisers_keys_are_their_own_whatever_their_address(organiser_factory, token_client):
    alice = token_client(organiser_factory(username="alice"))
    bob = token_client(organiser_factory(username="bob"))
    body = new_event()

    first, other = create(alice, body), create(bob, body)
    retry = create(alice, body)

    assert (first.status_code, other.status_code, retry.status_code) == (201, 201, 201)
    assert other.json()["id"] != first.json()["id"]
    assert retry.json()["id"] == first.json()["id"]
    assert Event.objects.count() == 2


def test_keys_are_each_endpoints_own(settings, api_client):
    settings.API_OPEN_ACCESS = True

    created = create(api_client, new_event(), key="shared-key")
    registered = register(api_client, created.json()["id"], key="shared-key")

    assert (created.status_code, registered.status_code) == (201, 201)
    assert not registered.has_header("Idempotent-Replayed")
    assert Attendee.objects.count() == 1


def test_a_refusal_is_replayed_even_after_the_reason_is_gone(
    api_client, event_factory, attendee_factory
):
    event = event_factory(max_capacity=1)
    seated = attendee_factory(event=event)

    full = register(api_client, event.pk)
    seated.delete()
    retry = register(api_client, event.pk)

    assert (full.status_code, retry.status_code) == (409, 409)
    assert retry.json() == full.json() == {"detail": full.json()["detail"], "code": "event_full"}
    assert retry["Idempotent-Replayed"] == "true"
    assert not Attendee.objects.exists()


def test_invalid_input_is_replayed(api_client, event_factory):
    event = event_factory()

    first = register(api_client, event.pk, {"name": "Ada", "email": "not an email"})
    retry = register(api_client, event.pk, {"name": "Ada", "email": "not an email"})

    assert (first.status_code, retry.status_code) == (400, 400)
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"


@pytest.fixture
def throttle_budget(settings):
    """`throttle_budget(n)`: registrations limited to n a minute, counted in a cache of this
    test's own."""
    settings.API_THROTTLE = True
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"throttle-{uuid.uuid4().hex}",
        }
    }

    def set_budget(requests: int) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                "register": f"{requests}/min",
            },
        }

    return set_budget


def test_a_throttled_request_never_claims_its_key(api_client, event_factory, throttle_budget):
    event = event_factory()
    throttle_budget(1)
    register(api_client, event.pk, BOB, key=None)

    throttled = register(api_client, event.pk)
    throttle_budget(100)
    retry = register(api_client, event.pk)

    assert throttled.status_code == 429
    assert retry.status_code == 201
    assert not retry.has_header("Idempotent-Replayed")
    assert Attendee.objects.filter(email="ada@example.com").count() == 1


def test_a_server_error_is_not_kept_and_its_effect_is_undone(
    api_client, event_factory, monkeypatch
):
    event = event_factory()
    real_register = views.register_attendee

    def register_then_fail(**kwargs):
        real_register(**kwargs)
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(views, "register_attendee", register_then_fail)
    failed = register(api_client, event.pk)
    monkeypatch.setattr(views, "register_attendee", real_register)
    retry = register(api_client, event.pk)

    assert failed.status_code == 500
    assert failed.json()["code"] == "server_error"
    assert retry.status_code == 201
    assert not retry.has_header("Idempotent-Replayed")
    assert Attendee.objects.filter(event=event).count() == 1


def test_an_expired_key_is_new_again(settings, api_client, event_factory):
    settings.IDEMPOTENCY_TTL = timedelta(hours=2)
    event = event_factory()
    before = timezone.now()
    register(api_client, event.pk)

    kept = IdempotencyKey.objects.get()
    assert before + timedelta(hours=2) <= kept.expires_at <= timezone.now() + timedelta(hours=2)
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    other = register(api_client, event.pk, BOB)

    assert other.status_code == 201
    assert not other.has_header("Idempotent-Replayed")
    assert Attendee.objects.filter(event=event).count() == 2


def test_purge_removes_expired_keys_only(api_client, event_factory):
    event = event_factory()
    register(api_client, event.pk, ADA, key="old")
    register(api_client, event.pk, BOB, key="fresh")
    IdempotencyKey.objects.filter(key="old").update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    out = StringIO()

    call_command("purge_idempotency_keys", stdout=out)

    assert out.getvalue().strip() == "Removed 1 expired idempotency key."
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
    assert register(api_client, event.pk, BOB, key="fresh")["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("", id="empty"),
        pytest.param("k" * 256, id="256 characters"),
        pytest.param("clé", id="not ASCII"),
        pytest.param("tab\there", id="a control character"),
    ],
)
def test_a_malformed_key_answers_400_naming_the_header(api_client, event_factory, key):
    event = event_factory()

    response = register(api_client, event.pk, key=key)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["errors"] == {
        "Idempotency-Key": [
            "Send 1 to 255 printable ASCII characters (letters, digits, punctuation, spaces)."
        ]
    }
    assert not Attendee.objects.exists()


@pytest.mark.parametrize("key", ["k" * 255, "order 42: ~!@#$%^&*()_+{}|<>?", "0"])
def test_any_printable_ascii_key_up_to_255_characters_is_taken(api_client, event_factory, key):
    event = event_factory()

    first, retry = register(api_client, event.pk, key=key), register(api_client, event.pk, key=key)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry["Idempotent-Replayed"] == "true"


def test_kept_answers_are_never_shown_in_the_admin(admin_client, api_client, event_factory):
    event = event_factory()
    register(api_client, event.pk)

    assert admin_client.get("/admin/core/idempotencykey/").status_code == 404
    assert b"dempotency" not in admin_client.get("/admin/").content
