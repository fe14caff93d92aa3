"""Settings for the events API: one module, every deploy-time choice read from the environment.

See `.env.example` for the variables and their defaults.
"""

import math
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if value.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {value!r}.")


def env_seconds(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ImproperlyConfigured(f"{name} must be a number of seconds, got {value!r}.")
    return seconds


def env_days(name: str, default: int) -> timedelta:
    value = os.environ.get(name, "").strip() or str(default)
    if not value.isdigit() or int(value) < 1:
        raise ImproperlyConfigured(f"{name} must be a whole number of days from 1, got {value!r}.")
    return timedelta(days=int(value))


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is false. "
            'Generate one with: python -c "import secrets; print(secrets.token_urlsafe(50))"'
        )
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105 - debug only

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "knox",
    "core",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Refuses a malformed /api/ request (unknown host, too many query parameters) with the API's
    # JSON 400 before anything else reads it, in debug mode too (see api/exceptions.py).
    "api.exceptions.MalformedRequestMiddleware",
    # Answers repeated event reads before the rest of the stack runs (see api/caching.py).
    "api.caching.ResponseCacheMiddleware",
    # Serves static files (the admin's, the API docs' Swagger UI) from the app itself, so a
    # deploy behind gunicorn alone is complete and the docs work offline.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "api.timezones.RequestTimezoneMiddleware",
]

ROOT_URLCONF = "event_management_system.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "event_management_system.wsgi.application"

# Database: SQLite in the project root by default, anything else through DATABASE_URL.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "600")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # Writers take the lock when their transaction begins, so concurrent registrations
        # queue on the busy timeout instead of failing with "database is locked".
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            # FULL: a registration answered 201 survives a power cut, not just a crash.
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
        ),
    }
    # Tests run against a file so that threads and server processes can share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test_db.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters travel apart from the SQL, and a statement a connection has run five times is
    # prepared: PostgreSQL then plans each hot query once per connection, not once per request.
    DATABASES["default"]["OPTIONS"] = {
        "server_side_binding": True,
        "prepare_threshold": 5,
        # Bounds on every wait, in seconds (0: none). A request that meets one answers 503;
        # the backend sends the last two at connection startup and enforces them even on a
        # frozen server (see event_management_system/postgresql).
        "connect_timeout": env_seconds("DJANGO_DB_CONNECT_TIMEOUT", 5),
        "statement_timeout": env_seconds("DJANGO_DB_STATEMENT_TIMEOUT", 15),
        # A registration holds its event's row for about a millisecond: 64 clients racing for
        # one event on two cores wait well under 50 ms. Only a stuck transaction reaches this.
        "lock_timeout": env_seconds("DJANGO_DB_LOCK_TIMEOUT", 5),
    }
    DATABASES["default"]["ENGINE"] = "event_management_system.postgresql"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Reuse rendered event reads until the data changes (PostgreSQL only; see api/caching.py).
API_RESPONSE_CACHE = env_bool("DJANGO_API_RESPONSE_CACHE", True)

# Open access, as the seed: anyone may create events and read attendee lists. On by default
# only while debugging; read at request time (api/permissions.py).
API_OPEN_ACCESS = env_bool("DJANGO_API_OPEN_ACCESS", DEBUG)

# Organisers' bearer tokens (django-rest-knox): kept as SHA-512 hashes, several per user, each
# expiring DJANGO_TOKEN_TTL_DAYS after it was issued.
REST_KNOX = {
    "TOKEN_TTL": env_days("DJANGO_TOKEN_TTL_DAYS", 30),
    "AUTH_HEADER_PREFIX": "Bearer",
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise also finds files in the installed apps, so the admin and the API docs are complete
# whether or not collectstatic has run.
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["api.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    # Reads nothing, not even the database, for a request without an Authorization header.
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "DATETIME_FORMAT": "iso-8601",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Events API",
    "DESCRIPTION": (
        "Create events, find upcoming ones, register attendees and list them. "
        'Every error answers `{"detail", "code"}`, plus `"errors"` for invalid input.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Separate request and response components: clients see which fields they send.
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's scripts and styles come from drf-spectacular-sidecar's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No call to the online spec validator either: the docs page works offline.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
    # A 4xx answer (a full event, a bad email) is the API working; log server errors only.
    "loggers": {"django.request": {"level": "ERROR"}},
}
