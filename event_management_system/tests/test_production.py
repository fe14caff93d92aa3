"""Production defaults: HTTPS only, request budgets on, JSON only; proxies trusted when told."""

import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from django.conf import settings

from event_management_system.tests.test_settings import settings_under
from testing.servers import NoRedirect, gunicorn

PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "kq3V9mX2rT8wZ5nB1cY7hJ4fL6pD0sG9aE2uI8oK5vN3xM7bQ1zW4tR6yH0jC",
    "DJANGO_ALLOWED_HOSTS": "events.example.com",
    # Open access on in production is a deploy warning of its own; this deploy turns it off.
    "DJANGO_API_OPEN_ACCESS": "false",
    # Emails go to a mail server; without one, a deploy warning of its own.
    "DJANGO_EMAIL_HOST": "smtp.example.com",
}


def check_deploy(env: dict) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env={**clean, **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_production_defaults():
    result = check_deploy(PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_when_emails_would_only_be_printed():
    without_mail_server = {k: v for k, v in PRODUCTION.items() if k != "DJANGO_EMAIL_HOST"}
    result = check_deploy(without_mail_server)

    assert result.returncode != 0
    assert "core.W001" in result.stderr
    assert "DJANGO_EMAIL_HOST is not set" in result.stderr


def test_check_deploy_says_what_a_debug_deploy_lacks():
    result = check_deploy({**PRODUCTION, "DJANGO_DEBUG": "true"})

    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


def production_settings(env: dict, expression: str) -> str:
    result = settings_under({**PRODUCTION, **env}, expression)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


SECURITY = (
    "(settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS, "
    "settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, "
    "getattr(settings, 'SECURE_PROXY_SSL_HEADER', None), "
    "settings.REST_FRAMEWORK['NUM_PROXIES'])"
)


def test_production_is_https_only_and_trusts_no_proxy_by_default():
    assert production_settings({}, SECURITY) == "(True, 31536000, True, True, None, 0)"


def test_trusted_proxies_are_counted_and_their_https_header_believed():
    expected = "(True, 31536000, True, True, ('HTTP_X_FORWARDED_PROTO', 'https'), 2)"
    assert production_settings({"DJANGO_TRUSTED_PROXIES": "2"}, SECURITY) == expected


def test_a_proxy_that_redirects_itself_turns_the_redirect_off():
    redirect = production_settings({"DJANGO_SECURE_SSL_REDIRECT": "false"}, SECURITY)
    assert redirect == "(False, 31536000, True, True, None, 0)"


def test_development_keeps_plain_http():
    result = settings_under({}, SECURITY)
    assert result.stdout.strip() == "(False, 0, False, False, None, 0)"


SWITCHES = "(settings.API_THROTTLE, settings.API_BROWSABLE)"


def test_throttling_is_on_in_production_and_off_while_debugging():
    assert production_settings({}, SWITCHES) == "(True, False)"
    assert settings_under({}, SWITCHES).stdout.strip() == "(False, True)"
    assert production_settings({"DJANGO_API_THROTTLE": "false"}, SWITCHES) == "(False, False)"


def test_budgets_come_from_the_environment():
    rates = "settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']"
    assert production_settings({}, rates) == (
        "{'register': '60/min', 'token': '10/min', 'create': '100/hour', "
        "'cancel': '60/min', 'organise': '60/min', 'feed': '30/min'}"
    )
    custom = {
        "DJANGO_THROTTLE_REGISTER": "5/s",
        "DJANGO_THROTTLE_TOKEN": "3/hour",
        "DJANGO_THROTTLE_CREATE": "1000/day",
        "DJANGO_THROTTLE_CANCEL": "20/min",
        "DJANGO_THROTTLE_ORGANISE": "500/hour",
        "DJANGO_THROTTLE_FEED": "2/min",
    }
    assert production_settings(custom, rates) == (
        "{'register': '5/s', 'token': '3/hour', 'create': '1000/day', "
        "'cancel': '20/min', 'organise': '500/hour', 'feed': '2/min'}"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DJANGO_THROTTLE_REGISTER", "60 per minute"),
        ("DJANGO_THROTTLE_CREATE", "0/hour"),
        ("DJANGO_TRUSTED_PROXIES", "one"),
    ],
)
def test_a_malformed_setting_refuses_to_start(name, value):
    result = settings_under({**PRODUCTION, name: value}, "settings.DEBUG")

    assert result.returncode != 0
    assert name in result.stderr


def test_counts_live_in_redis_when_redis_url_is_set_and_in_process_memory_otherwise():
    cache = (
        "tuple(settings.CACHES['default'].get(k) for k in ('BACKEND', 'LOCATION', 'KEY_PREFIX'))"
    )
    # Blank values, as .env.example leaves them, mean the defaults.
    blank = {"REDIS_URL": "", "DJANGO_CACHE_KEY_PREFIX": ""}
    assert production_settings(blank, cache) == (
        "('django.core.cache.backends.locmem.LocMemCache', None, 'events')"
    )
    redis = {"REDIS_URL": "redis://cache.internal:6379/2", "DJANGO_CACHE_KEY_PREFIX": "events-eu"}
    assert production_settings(redis, cache) == (
        "('django.core.cache.backends.redis.RedisCache', 'redis://cache.internal:6379/2', "
        "'events-eu')"
    )


def fetch(url: str, **headers: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


@pytest.mark.django_db(transaction=True)
def test_production_redirects_plain_http_to_https():
    with gunicorn(workers=1, env={"DJANGO_SECURE_SSL_REDIRECT": ""}) as url:
        status, headers = fetch(f"{url}/api/events/?page=1")
        # Without a trusted proxy, a client's own claim to be on HTTPS is not believed.
        claimed_status, _ = fetch(f"{url}/api/events/", **{"X-Forwarded-Proto": "https"})

    assert status == 301
    assert headers["Location"] == url.replace("http://", "https://") + "/api/events/?page=1"
    assert claimed_status == 301


@pytest.mark.django_db(transaction=True)
def test_behind_a_trusted_proxy_https_answers_with_hsts():
    env = {"DJANGO_SECURE_SSL_REDIRECT": "", "DJANGO_TRUSTED_PROXIES": "1"}
    with gunicorn(workers=1, env=env) as url:
        status, headers = fetch(f"{url}/api/events/", **{"X-Forwarded-Proto": "https"})

    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_email_goes_over_smtp_when_a_host_is_set_and_to_the_console_otherwise():
    email = (
        "(settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT, "
        "settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD, settings.EMAIL_USE_TLS, "
        "settings.DEFAULT_FROM_EMAIL, settings.PUBLIC_URL)"
    )
    smtp = {
        "DJANGO_EMAIL_HOST": "smtp.example.com",
        "DJANGO_EMAIL_PORT": "587",
        "DJANGO_EMAIL_HOST_USER": "events",
        "DJANGO_EMAIL_HOST_PASSWORD": "s3cret",
        "DJANGO_EMAIL_USE_TLS": "true",
        "DJANGO_DEFAULT_FROM_EMAIL": "Events <events@example.com>",
        "DJANGO_PUBLIC_URL": "https://events.example.com/",
    }
    assert production_settings(smtp, email) == (
        "('django.core.mail.backends.smtp.EmailBackend', 'smtp.example.com', 587, 'events', "
        "'s3cret', True, 'Events <events@example.com>', 'https://events.example.com')"
    )
    # In debug mode too, a host set means SMTP.
    debug = production_settings({**smtp, "DJANGO_DEBUG": "true"}, "settings.EMAIL_BACKEND")
    assert debug == "django.core.mail.backends.smtp.EmailBackend"
    blank = {"DJANGO_EMAIL_HOST": "", "DJANGO_EMAIL_USE_TLS": "", "DJANGO_PUBLIC_URL": ""}
    assert production_settings(blank, email) == (
        "('django.core.mail.backends.console.EmailBackend', '', 25, '', '', False, "
        "'events@localhost', 'http://127.0.0.1:8000')"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("DJANGO_EMAIL_PORT", "smtp"), ("DJANGO_EMAIL_USE_TLS", "maybe"),
     ("DJANGO_EMAIL_RETRY_BASE_SECONDS", "-1")],
)  # fmt: skip
def test_a_malformed_email_setting_stops_the_start(name, value):
    result = settings_under({**PRODUCTION, name: value}, "settings.DEBUG")

    assert result.returncode != 0
    assert name in result.stderr
