"""JSON bodies: malformed, deep or huge ones answer 400 `parse_error` cheaply, writing nothing."""

import pytest

from api.parsers import MAX_BODY_BYTES, MAX_DEPTH
from core.models import Attendee, Event
from testing.cpu import least_cpu

pytestmark = pytest.mark.django_db

# Closes an array opened before it, one level too deep.
DEEPEST = "[" * MAX_DEPTH + "]" * MAX_DEPTH + "]"


def post(client, path, body: str | bytes, content_type="application/json"):
    return client.post(path, body, content_type=content_type)


@pytest.fixture
def paths(event_factory) -> list[str]:
    return ["/api/events/", f"/api/events/{event_factory().pk}/register/"]


def assert_parse_error(response, *words: str):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "parse_error"
    for word in words:
        assert word in body["detail"]


def assert_nothing_written():
    assert Event.objects.count() == 1
    assert not Attendee.objects.exists()


@pytest.mark.parametrize(
    "body",
    ["[" * 1000, "[" * 1000 + "]" * 1000, '{"name": ' + "{" * 1000, "[" * 60_000],
    ids=["1000 open", "1000 closed", "objects", "60000 open"],
)
def test_deeply_nested_body_is_a_parse_error(client, paths, body):
    for path in paths:
        assert_parse_error(post(client, path, body), f"nests deeper than {MAX_DEPTH}")
    assert_nothing_written()


def test_nesting_up_to_the_limit_is_parsed(client, paths):
    nested = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    response = post(client, paths[0], nested)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"  # parsed: a list, not the object expected


def test_brackets_inside_strings_do_not_count_as_nesting(client, paths):
    name = '[{\\"\\\\' * 200  # each one reads [{"\ once the JSON string is decoded
    response = post(client, paths[1], f'{{"name": "{name}", "email": "ada@example.com"}}')
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "name": ["Ensure this field has no more than 200 characters."]
    }


def test_body_over_the_limit_is_a_parse_error(client, paths):
    body = '{"name": "' + "a" * MAX_BODY_BYTES + '", "email": "ada@example.com"}'
    for path in paths:
        assert_parse_error(post(client, path, body), f"{MAX_BODY_BYTES:,} bytes")
    assert_nothing_written()


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "Ada", ',
        '{"name": NaN, "email": "ada@example.com"}',
        '{"name": "Ada", "email": Infinity}',
        '{"name": "Ada", "email": -Infinity}',
        '{"max_capacity": 1e999}',
        b'{"name": "\xff\xfe", "email": "ada@example.com"}',
        b'{"name": "\xed\xa0\x80", "email": "ada@example.com"}',  # a UTF-8-encoded surrogate
    ],
    ids=["truncated", "NaN", "Infinity", "-Infinity", "overflow", "not UTF-8", "surrogate"],
)
def test_malformed_body_is_a_parse_error(client, paths, body):
    for path in paths:
        assert_parse_error(post(client, path, body), "JSON parse error")
    assert_nothing_written()


def test_a_body_in_a_declared_charset_is_read_in_it(client, event_factory):
    event = event_factory()
    body = '{"name": "Zoë", "email": "zoe@example.com"}'  # the client encodes it in the charset
    response = post(
        client, f"/api/events/{event.pk}/register/", body, "application/json; charset=utf-16"
    )
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "Zoë"


@pytest.mark.parametrize(
    "body",
    [
        "[]" * (MAX_BODY_BYTES // 2),
        '["",' + '"",' * (MAX_BODY_BYTES // 3 - 100) + DEEPEST,
        '["' + "\\\\" * (MAX_BODY_BYTES // 2 - 100) + '",' + DEEPEST,
        "[" * 1_000_000,
    ],
    ids=["pairs", "strings", "escapes", "over the limit"],
)
def test_a_hostile_body_costs_little_cpu(client, event_factory, body):
    event = event_factory()
    spent, response = least_cpu(lambda: post(client, f"/api/events/{event.pk}/register/", body))

    assert response.status_code == 400
    assert spent < 0.1, f"{spent * 1000:.0f} ms of CPU"


@pytest.fixture
def sign_in_user(user_factory, fast_passwords):
    user = user_factory(username="nina")
    user.set_password("correct horse battery staple")
    user.save()
    return user


@pytest.mark.parametrize(
    "charset", ["punycode", "idna", "unicode_escape", "base64", "rot13", "zlib", "no-such-charset"]
)
def test_a_charset_no_body_is_written_in_is_a_parse_error(
    client, event_factory, organiser_factory, token_client, sign_in_user, charset
):
    """Registration, sign-in and PATCH: a charset that is unknown, no text encoding or no
    character set answers the API's 400, not a 500 (punycode) nor a guess, and writes nothing."""
    owner = organiser_factory()
    event = event_factory(owner=owner, name="Before")
    content_type = f"application/json; charset={charset}"
    # Sent as bytes, as a client would: the test client would encode a text body in the charset.
    answers = [
        client.generic(
            "POST",
            f"/api/events/{event.pk}/register/",
            b'{"name": "Ada", "email": "ada@example.com"}',
            content_type,
        ),
        client.generic(
            "POST",
            "/api/auth/token/",
            b'{"username": "nina", "password": "correct horse battery staple"}',
            content_type,
        ),
        token_client(owner).generic(
            "PATCH", f"/api/events/{event.pk}/", b'{"name": "After"}', content_type
        ),
    ]
    for response in answers:
        assert response.status_code == 400, response.content
        assert response.json() == {
            "detail": f'Unsupported charset "{charset}" in request Content-Type header.',
            "code": "parse_error",
        }
    event.refresh_from_db()
    assert event.name == "Before"
    assert not Attendee.objects.exists()
