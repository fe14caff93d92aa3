"""Settings for the events API: one module, every deploy-time choice read from the environment.

The variables, their types and defaults are declared in event_management_system/config.py;
docs/operations/configuration.md is generated from there.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from event_management_system import config

BASE_DIR = config.BASE_DIR

# Every variable, parsed once; a malformed one has already stopped the start.
env = config.read()

DEBUG = env["DJANGO_DEBUG"]

SECRET_KEY = env["DJANGO_SECRET_KEY"]
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is false. "
            'Generate one with: python -c "import secrets; print(secrets.token_urlsafe(50))"'
        )
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105 - debug only

# Every event's ticket-signing key is derived from it (core/tickets.py): never stored.
TICKET_SECRET = env["DJANGO_TICKET_SECRET"] or SECRET_KEY

ALLOWED_HOSTS = env["DJANGO_ALLOWED_HOSTS"]

# How many reverse proxies stand in front of the app, each appending to X-Forwarded-For. None
# by default: the header is then the client's own text and is never believed.
TRUSTED_PROXIES = env["DJANGO_TRUSTED_PROXIES"]

# Production answers over HTTPS only: plain HTTP is redirected, browsers are told to stay on
# HTTPS (HSTS), and cookies travel on HTTPS alone. A proxy that redirects by itself may turn the
# app's redirect off with DJANGO_SECURE_SSL_REDIRECT=false.
SECURE_SSL_REDIRECT = env["DJANGO_SECURE_SSL_REDIRECT"]
SECURE_HSTS_SECONDS = env["DJANGO_SECURE_HSTS_SECONDS"]
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env["DJANGO_SECURE_HSTS_PRELOAD"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
if TRUSTED_PROXIES:
    # The proxy terminates TLS and says so; without a trusted proxy the header is not believed.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Asking browsers to preload HSTS is for the domain's owner to decide, once, for every subdomain;
# until DJANGO_SECURE_HSTS_PRELOAD=true says so, `check --deploy` is not to ask for it.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "knox",
    "core",
    "api",
]

MIDDLEWARE = [
    # Outermost: every answer, a cached one and an early refusal too, carries its own request
    # id, is counted in the metrics and is logged as one line (ops/requests.py).
    "event_management_system.ops.requests.RequestObservationMiddleware",
    # /healthz, /readyz and /metrics, answered before host validation and the HTTPS redirect:
    # probes come from inside, over plain HTTP, by whatever address they know (ops/endpoints.py).
    "event_management_system.ops.endpoints.OperationsMiddleware",
    # Before anything reads the database: a GET's statements get DJANGO_DB_READ_STATEMENT_TIMEOUT,
    # shorter than a write's (event_management_system/postgresql/).
    "event_management_system.postgresql.middleware.ReadBoundMiddleware",
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
    # Turns a sign-in refused for too many failures into the lock-out page (django-axes).
    "axes.middleware.AxesMiddleware",
]

# Sign-ins are counted first: after AXES_FAILURE_LIMIT failures for one username from one
# address, that pair is refused, even with the right password, until the cool-off ends or
# `manage.py axes_reset` lifts it. Staff see the lock-outs in the admin under "Axes".
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = env["DJANGO_AXES_FAILURE_LIMIT"]
AXES_COOLOFF_TIME = timedelta(minutes=env["DJANGO_AXES_COOLOFF_MINUTES"])
AXES_RESET_ON_SUCCESS = True
# Every sign-in, the admin's and the API's token requests alike: one count, one lock. The API
# answers a lock-out with its own JSON (403 `locked_out`, api/auth/views.py), never the page.
AXES_ONLY_ADMIN_SITE = False
# The same client address the API's throttles use, so DJANGO_TRUSTED_PROXIES governs both.
AXES_CLIENT_IP_CALLABLE = "event_management_system.ops.clients.client_address"
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"

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
    "default": dj_database_url.parse(
        env["DATABASE_URL"],
        conn_max_age=env["DJANGO_CONN_MAX_AGE"],
        conn_health_checks=env["DJANGO_CONN_HEALTH_CHECKS"],
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
    # Tests run against a file so that threads and server processes can share it, named after
    # the database: db.sqlite3's tests use test_db.sqlite3 beside it, and a suite run on a test
    # database (as the documentation's examples do) one of its own.
    _database = Path(DATABASES["default"]["NAME"])
    DATABASES["default"]["TEST"] = {
        "NAME": str(_database.with_name(f"test_{_database.name}")),
    }
    # Its migrations keep triggers through a table's rebuild (event_management_system/sqlite3).
    DATABASES["default"]["ENGINE"] = "event_management_system.sqlite3"
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters travel apart from the SQL, and a statement a connection has run five times is
    # prepared: PostgreSQL then plans each hot query once per connection, not once per request.
    DATABASES["default"]["OPTIONS"] = {
        "server_side_binding": True,
        "prepare_threshold": 5,
        # Bounds on every wait, in seconds (0: none). A request that meets one answers 503;
        # the backend sends the last two at connection startup and enforces them even on a
        # frozen server (see event_management_system/postgresql).
        "connect_timeout": env["DJANGO_DB_CONNECT_TIMEOUT"],
        "statement_timeout": env["DJANGO_DB_STATEMENT_TIMEOUT"],
        "read_statement_timeout": env["DJANGO_DB_READ_STATEMENT_TIMEOUT"],
        # A registration holds its event's row for about a millisecond: 64 clients racing for
        # one event on two cores wait well under 50 ms. Only a stuck transaction reaches this.
        "lock_timeout": env["DJANGO_DB_LOCK_TIMEOUT"],
    }
    DATABASES["default"]["ENGINE"] = "event_management_system.postgresql"

# What stands between the app and PostgreSQL: nothing (the default), PgBouncer in transaction
# pooling mode (DJANGO_DB_POOLER=pgbouncer), or a pool of connections in each process
# (DJANGO_DB_POOL=true, psycopg_pool through Django's own OPTIONS["pool"]).
DB_POOLER = env["DJANGO_DB_POOLER"]
DB_POOL = env["DJANGO_DB_POOL"]
ON_POSTGRES = DATABASES["default"]["ENGINE"] == "event_management_system.postgresql"
if (DB_POOLER == "pgbouncer" or DB_POOL) and not ON_POSTGRES:
    raise ImproperlyConfigured(
        "DJANGO_DB_POOLER and DJANGO_DB_POOL need a PostgreSQL DATABASE_URL."
    )
if DB_POOLER == "pgbouncer" and DB_POOL:
    raise ImproperlyConfigured(
        "DJANGO_DB_POOL=true keeps a pool in each process; behind DJANGO_DB_POOLER=pgbouncer the "
        "pooler already shares the server's connections. Choose one."
    )
if DB_POOLER == "pgbouncer":
    # In transaction pooling mode a client's transactions may each run on another server
    # connection, and nothing set on a session survives its transaction:
    # - a server-side cursor (QuerySet.iterator()) lives in its session: fetch rows client-side;
    # - PgBouncer 1.18 does not track named prepared statements: parameters still travel apart
    #   from the SQL, in unnamed statements, but none is prepared;
    # - it refuses the startup packet's `options`, so the server-side statement and lock
    #   timeouts are PgBouncer's to set on each server connection it opens (its connect_query,
    #   see deploy/pgbouncer.ini); the app still cuts any call that outlives them.
    # Connections to PgBouncer itself stay open between requests (DJANGO_CONN_MAX_AGE): one
    # holds no server connection while idle, and keeping it saves a handshake per request.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = None
    DATABASES["default"]["OPTIONS"]["send_timeouts"] = False
if DB_POOL:
    # One host, no pooler: each process keeps up to DJANGO_DB_POOL_MAX_SIZE connections (one
    # per gunicorn thread by default) and lends one to each request; Django requires
    # CONN_MAX_AGE 0 with a pool, as the pool, not the request, decides when to close one.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env["DJANGO_DB_POOL_MIN_SIZE"],
        "max_size": env["DJANGO_DB_POOL_MAX_SIZE"],
        # A request waits this long for a free connection, then answers 503.
        "timeout": env["DJANGO_DB_POOL_TIMEOUT"],
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Reuse rendered event reads until the data changes (PostgreSQL only; see api/caching.py).
API_RESPONSE_CACHE = env["DJANGO_API_RESPONSE_CACHE"]

# Open access, as the seed: anyone may create events and read attendee lists. On by default
# only while debugging; read at request time (api/permissions.py).
API_OPEN_ACCESS = env["DJANGO_API_OPEN_ACCESS"]

# Organisers' bearer tokens (django-rest-knox): kept as SHA-512 hashes, several per user, each
# expiring DJANGO_TOKEN_TTL_DAYS after it was issued.
REST_KNOX = {
    "TOKEN_TTL": env["DJANGO_TOKEN_TTL_DAYS"],
    "AUTH_HEADER_PREFIX": "Bearer",
}

# How long the answer to a POST sent with an Idempotency-Key is kept for its retries (see
# api/idempotency.py); `manage.py purge_idempotency_keys` deletes the expired ones.
IDEMPOTENCY_TTL = env["DJANGO_IDEMPOTENCY_TTL_HOURS"]

# Django's cache holds the throttles' counts. With REDIS_URL every worker and every host counts
# in one place; without it each process counts alone, in its own memory.
REDIS_URL = env["REDIS_URL"]
CACHE_KEY_PREFIX = env["DJANGO_CACHE_KEY_PREFIX"]
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            # A Redis that stops answering costs a request one second, not a hung worker.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }

# Request budgets (api/throttling.py): on in production, off while debugging so local races and
# demos are not refused.
API_THROTTLE = env["DJANGO_API_THROTTLE"]
# How long the budgets go uncounted after their cache failed (api/throttling.py).
THROTTLE_CACHE_RETRY_SECONDS = env["DJANGO_THROTTLE_CACHE_RETRY_SECONDS"]

# DRF's browsable API for people in a browser: HTML when a browser asks, signed in through the
# admin's session. JSON stays first, so every other client is answered exactly as before.
API_BROWSABLE = env["DJANGO_API_BROWSABLE"]

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
    "DEFAULT_RENDERER_CLASSES": [
        "api.renderers.JSONRenderer",
        *(["rest_framework.renderers.BrowsableAPIRenderer"] if API_BROWSABLE else []),
    ],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    # Bearer first: its 401 says how to authenticate. The bearer scheme reads nothing, not even
    # the database, for a request without an Authorization header; the admin's session signs
    # in to the browsable API only.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.BearerTokenAuthentication",
        *(["rest_framework.authentication.SessionAuthentication"] if API_BROWSABLE else []),
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "DATETIME_FORMAT": "iso-8601",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.ScopedThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "register": env["DJANGO_THROTTLE_REGISTER"],
        "token": env["DJANGO_THROTTLE_TOKEN"],
        "create": env["DJANGO_THROTTLE_CREATE"],
        "cancel": env["DJANGO_THROTTLE_CANCEL"],
        "organise": env["DJANGO_THROTTLE_ORGANISE"],
        "feed": env["DJANGO_THROTTLE_FEED"],
    },
    "NUM_PROXIES": TRUSTED_PROXIES,
}

SPECTACULAR_SETTINGS = {
    # The schema documents the API's own scheme; the admin's session signs in to the browsable
    # API while developing, which is no way for a client to call it.
    "AUTHENTICATION_WHITELIST": ["api.authentication.BearerTokenAuthentication"],
    "TITLE": "Events API",
    "DESCRIPTION": (
        "Create events, find upcoming ones, register attendees and list them. "
        'Every error answers `{"detail", "code"}`, plus `"errors"` for invalid input.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Separate request and response components: clients see which fields they send.
    "COMPONENT_SPLIT_REQUEST": True,
    # Events and registrations both have a `status`: each enum keeps a name of its own.
    "ENUM_NAME_OVERRIDES": {
        "EventStatusEnum": "core.models.EventStatus",
        "RegistrationStatusEnum": "core.models.AttendeeStatus",
    },
    # Swagger UI's scripts and styles come from drf-spectacular-sidecar's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No call to the online spec validator either: the docs page works offline.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# Operations (event_management_system/ops/): probes, metrics and logs.
# /readyz waits this long for the database and Redis before answering 503.
READINESS_TIMEOUT = env["DJANGO_READINESS_TIMEOUT"]
# With a token, /metrics is served to `Authorization: Bearer <token>` from anywhere; without
# one, to clients on this host only (ops/endpoints.py).
METRICS_TOKEN = env["DJANGO_METRICS_TOKEN"]

# Human-readable lines while debugging (`make run`), one JSON object per line otherwise;
# DJANGO_LOG_FORMAT chooses either way (event_management_system/ops/logs.py).
LOG_FORMAT = env["DJANGO_LOG_FORMAT"]
LOGGING_CONFIG = "event_management_system.ops.logs.configure"

# Outgoing email. Every message is written to the outbox (core.models.OutgoingMessage) in the
# transaction of the change that causes it, and sent by the worker (`manage.py send_emails`),
# which claims due rows of that table (core/outbox.py).
# With DJANGO_EMAIL_HOST messages go over SMTP in every mode; without it they are printed to the
# worker's console (and `check --deploy` warns when DEBUG is off).
EMAIL_HOST = env["DJANGO_EMAIL_HOST"]
EMAIL_PORT = env["DJANGO_EMAIL_PORT"]
EMAIL_HOST_USER = env["DJANGO_EMAIL_HOST_USER"]
EMAIL_HOST_PASSWORD = env["DJANGO_EMAIL_HOST_PASSWORD"]
EMAIL_USE_TLS = env["DJANGO_EMAIL_USE_TLS"]
# A mail server that stops answering costs one attempt this long, then a retry.
EMAIL_TIMEOUT = env["DJANGO_EMAIL_TIMEOUT"]
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env["DJANGO_DEFAULT_FROM_EMAIL"]
# Where the links in emails (the cancel page) point: the site as its users reach it.
PUBLIC_URL = env["DJANGO_PUBLIC_URL"].rstrip("/")
# A message whose sending fails is tried again after EMAIL_RETRY_BASE_SECONDS, then twice as
# long each time, up to EMAIL_MAX_ATTEMPTS tries in all; then it stays in the outbox as failed.
EMAIL_RETRY_BASE_SECONDS = env["DJANGO_EMAIL_RETRY_BASE_SECONDS"]
EMAIL_MAX_ATTEMPTS = max(1, env["DJANGO_EMAIL_MAX_ATTEMPTS"])

# A worker's claim on a message lasts this long: a message claimed by a worker that died is
# sent by another (or the same, restarted) once it runs out. Longer than a send may take.
EMAIL_LEASE_SECONDS = env["DJANGO_EMAIL_LEASE_SECONDS"]
EMAIL_MAX_PER_MAILBOX_PER_HOUR = env["DJANGO_EMAIL_MAX_PER_MAILBOX_PER_HOUR"]
# How often an idle worker looks for due messages.
EMAIL_WORKER_POLL_SECONDS = env["DJANGO_EMAIL_WORKER_POLL_SECONDS"]

# Attendees' personal data is erased this long after their event ends (core.services.
# erase_expired_registrations, run by the worker every RETENTION_PASS_SECONDS).
RETENTION = env["DJANGO_RETENTION_DAYS"]
RETENTION_PASS_SECONDS = 3600
# Webhooks (core/webhooks.py): retried on failure from WEBHOOK_RETRY_BASE_SECONDS, doubling,
# for WEBHOOK_RETRY_WINDOW; kept WEBHOOK_LOG_AGE; sent to public addresses over https only
# unless allowed.
WEBHOOK_RETRY_BASE_SECONDS = env["DJANGO_WEBHOOK_RETRY_BASE_SECONDS"]
WEBHOOK_RETRY_WINDOW = env["DJANGO_WEBHOOK_RETRY_HOURS"]
WEBHOOK_LEASE_SECONDS = env["DJANGO_WEBHOOK_LEASE_SECONDS"]
WEBHOOK_LOG_AGE = env["DJANGO_WEBHOOK_LOG_DAYS"]
WEBHOOKS_ALLOW_HTTP = env["DJANGO_WEBHOOKS_ALLOW_HTTP"]
WEBHOOKS_ALLOW_PRIVATE = env["DJANGO_WEBHOOKS_ALLOW_PRIVATE"]

# The calendar feed (/api/events.ics) holds the soonest this many upcoming events (its filters
# narrow it): each costs the server about a millisecond to write, so a catalogue of 300,000
# would hold a worker for minutes.
CALENDAR_FEED_MAX_EVENTS = env["DJANGO_CALENDAR_FEED_MAX_EVENTS"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {"()": "event_management_system.ops.logs.formatter", "format": LOG_FORMAT}
    },
    "handlers": {
        "console": {
            "class": "event_management_system.ops.logs.StreamHandler",
            "formatter": "structured",
        }
    },
    "root": {"handlers": ["console"], "level": env["DJANGO_LOG_LEVEL"]},
    "loggers": {
        # Django's own lines go to the handler above, not also to its debug-only plain one.
        "django": {"handlers": []},
        # A 4xx answer (a full event, a bad email) is the API working; log server errors only.
        "django.request": {"level": "ERROR"},
        # One line per request (ops/requests.py); the probes' at DEBUG, so none by default.
        "event_management_system.ops.requests": {"level": env["DJANGO_REQUEST_LOG_LEVEL"]},
        # runserver's own line per request says less than the one above.
        "django.server": {"level": "WARNING", "handlers": ["console"], "propagate": False},
    },
}
