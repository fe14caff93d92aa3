"""Every setting read from the environment, declared once: its variable, type, default and
what it does. settings.py, gunicorn.conf.py and deploy/ take their values from `read()`;
docs/operations/configuration.md and .env.example are generated from the same list:

    python -m event_management_system.config reference > docs/operations/configuration.md
        (make docs-config)
    python -m event_management_system.config env-example > .env.example

To add a setting, add a `Setting` to `SETTINGS` in the section of the program that reads it,
read it as `env["NAME"]` where it is used, and regenerate the reference (a test fails until
it is). A value that is unset or blank means the default, except for a list, where a blank
value is the empty list, and for `as written` text, kept as it is.
"""

import copy
import math
import multiprocessing
import os
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------
# Types: how a variable's text becomes a value, and how the reference names it.


@dataclass(frozen=True)
class Type:
    """How a variable's text becomes its value; a malformed text raises ImproperlyConfigured
    naming the variable."""

    label: str
    parse: Callable[[str, str], Any]
    show: Callable[[Any], str] = str
    # Blank text is a value of its own (an empty list), not the default.
    blank_is_value: bool = False


def _bool(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {text!r}.")


def _seconds(name: str, text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ImproperlyConfigured(f"{name} must be a number of seconds, got {text!r}.")
    return seconds


def _whole(name: str, text: str) -> int:
    value = text.strip()
    if not value.isdigit():
        raise ImproperlyConfigured(f"{name} must be a whole number from 0, got {value!r}.")
    return int(value)


def _integer(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {text!r}.") from None


def _period(unit: str) -> Callable[[str, str], timedelta]:
    def parse(name: str, text: str) -> timedelta:
        value = text.strip()
        if not value.isdigit() or int(value) < 1:
            raise ImproperlyConfigured(
                f"{name} must be a whole number of {unit} from 1, got {value!r}."
            )
        return timedelta(**{unit: int(value)})

    return parse


def _rate(name: str, text: str) -> str:
    value = text.strip()
    if not re.fullmatch(r"[1-9][0-9]*/(s|sec|m|min|h|hour|d|day)", value):
        raise ImproperlyConfigured(
            f"{name} must be requests per period, such as 60/min (periods: s, min, hour, day), "
            f"got {value!r}."
        )
    return value


def _list(name: str, text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _ports(name: str, text: str) -> list[int]:
    items = _list(name, text)
    if not items or not all(item.isdigit() for item in items):
        raise ImproperlyConfigured(f"{name} must be comma-separated port numbers, got {text!r}.")
    return [int(item) for item in items]


def _choice(*allowed: str, said: str) -> Callable[[str, str], str]:
    def parse(name: str, text: str) -> str:
        value = text.strip().lower()
        if value not in allowed:
            raise ImproperlyConfigured(f"{name} must be {said}, got {value!r}.")
        return value

    return parse


def _show_number(value: float) -> str:
    return f"{value:g}"


BOOL = Type("true or false", _bool, show=lambda value: "true" if value else "false")
SECONDS = Type("seconds (a number from 0)", _seconds, show=_show_number)
WHOLE = Type("whole number from 0", _whole)
INTEGER = Type("whole number", _integer)
DAYS = Type("whole days from 1", _period("days"), show=lambda value: str(value.days))
HOURS = Type(
    "whole hours from 1", _period("hours"), show=lambda value: str(value // timedelta(hours=1))
)
RATE = Type("requests per period: N/s, N/min, N/hour or N/day", _rate)
LIST = Type("comma-separated list", _list, show=",".join, blank_is_value=True)
PORTS = Type("comma-separated port numbers", _ports, show=lambda ports: ",".join(map(str, ports)))
TEXT = Type("text", lambda name, text: text.strip())
# Kept exactly as written, spaces included (a password may hold them).
RAW = Type("text, as written", lambda name, text: text, blank_is_value=True)
POOLER = Type("`pgbouncer` or empty", _choice("none", "pgbouncer", said="pgbouncer or empty"))
LOG_FORMAT = Type("`console` or `json`", _choice("console", "json", said="console or json"))
POOLER_NAME = Type("`pgbouncer` or `none`", _choice("none", "pgbouncer", said="pgbouncer or none"))


# ---------------------------------------------------------------------------------------------
# The list.

_UNSET = object()


@dataclass(frozen=True)
class Derived:
    """A default computed from other values (or from the machine), described in words."""

    text: str
    compute: Callable[[Callable[[str], Any]], Any]


@dataclass(frozen=True)
class Setting:
    """One environment variable: its type, its default, and what it does."""

    name: str
    type: Type
    default: Any
    description: str
    # The default when DJANGO_DEBUG is false, where it differs from the development one.
    production: Any = _UNSET
    # The program that reads it, as the reference groups them.
    section: str = field(default="", compare=False)


def _section(title: str, *settings: Setting) -> tuple[Setting, ...]:
    return tuple(replace(setting, section=title) for setting in settings)


APP = "The app (settings.py)"
GUNICORN = "gunicorn (gunicorn.conf.py)"
CLUSTER = "The local cluster (deploy/cluster.py, deploy/measure.py)"

SETTINGS: tuple[Setting, ...] = (
    *_section(
        APP,
        Setting(
            "DJANGO_DEBUG", BOOL, True,
            "Debug mode: true for local development, false in production; the defaults marked "
            "*production* follow from false.",
        ),
        Setting(
            "DJANGO_SECRET_KEY", RAW, "",
            "Signs sessions and tokens. Required when DJANGO_DEBUG is false (the app refuses to "
            "start without it); generate one with `python3 -c \"import secrets; "
            "print(secrets.token_urlsafe(50))\"`. Unset while debugging: a fixed local key.",
        ),
        Setting(
            "DJANGO_TICKET_SECRET", RAW, "",
            "What every event's Ed25519 ticket key is derived from (core/tickets.py). Set it "
            "in production and keep it: a new value voids every ticket issued, printed or "
            "emailed. Unset: derived from DJANGO_SECRET_KEY, whose rotation then voids them.",
        ),
        Setting(
            "DJANGO_ALLOWED_HOSTS", LIST, ["localhost", "127.0.0.1", "[::1]"],
            "Host names the app answers for.",
        ),
        Setting(
            "DATABASE_URL", TEXT,
            Derived(
                "SQLite in `db.sqlite3` at the project root",
                lambda get: f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
            ),
            "The database, as a URL; PostgreSQL: `postgres://USER:PASSWORD@HOST:5432/NAME`.",
        ),
        Setting(
            "DJANGO_CONN_MAX_AGE", INTEGER, 600,
            "Seconds a database connection is kept open between requests (0 closes it after "
            "each).",
        ),
        Setting(
            "DJANGO_CONN_HEALTH_CHECKS", BOOL, False,
            "Check a kept database connection with a query before each request reuses it. Off: "
            "on PostgreSQL a connection the server closed is found by the error of the "
            "request's first statement and replaced, and that statement sent again.",
        ),
        Setting(
            "DJANGO_DB_CONNECT_TIMEOUT", SECONDS, 5,
            "PostgreSQL: seconds to open a connection (whole seconds, at least 2) and for a kept "
            "connection's health check when on; 0 leaves psycopg's default (130 s). A request that "
            "meets any of these bounds answers 503.",
        ),
        Setting(
            "DJANGO_DB_STATEMENT_TIMEOUT", SECONDS, 15,
            "PostgreSQL: seconds one SQL statement may run (0: the server's own setting). "
            "Behind PgBouncer, set by its connect_query instead (deploy/cluster.py writes it).",
        ),
        Setting(
            "DJANGO_DB_READ_STATEMENT_TIMEOUT", SECONDS, 5,
            "PostgreSQL: seconds one SQL statement of a read (a GET, HEAD or OPTIONS request) may "
            "run, so a read gives up before a write would (0: DJANGO_DB_STATEMENT_TIMEOUT's "
            "bound). Enforced by the app's watchdog, which cuts the statement: no round trip.",
        ),
        Setting(
            "DJANGO_DB_LOCK_TIMEOUT", SECONDS, 5,
            "PostgreSQL: seconds a statement waits for a lock, e.g. on an event another "
            "transaction holds (0: the server's own setting).",
        ),
        Setting(
            "DJANGO_DB_POOLER", POOLER, "none",
            "PostgreSQL: `pgbouncer` when DATABASE_URL names PgBouncer in transaction pooling "
            "mode: no server-side cursors, no prepared statements, no startup options.",
        ),
        Setting(
            "DJANGO_DB_POOL", BOOL, False,
            "PostgreSQL: a psycopg pool of connections in each process instead (one host, no "
            "PgBouncer); DJANGO_CONN_MAX_AGE is then 0.",
        ),
        Setting(
            "DJANGO_DB_POOL_MIN_SIZE", WHOLE, 1,
            "With DJANGO_DB_POOL: connections each process keeps open.",
        ),
        Setting(
            "DJANGO_DB_POOL_MAX_SIZE", WHOLE,
            Derived("the value of GUNICORN_THREADS", lambda get: get("GUNICORN_THREADS")),
            "With DJANGO_DB_POOL: connections each process lends at most.",
        ),
        Setting(
            "DJANGO_DB_POOL_TIMEOUT", SECONDS, 5,
            "With DJANGO_DB_POOL: seconds a request waits for a free connection before "
            "answering 503.",
        ),
        Setting(
            "DJANGO_API_RESPONSE_CACHE", BOOL, True,
            "PostgreSQL: reuse rendered event reads and list counts until a change version "
            "(kept by database triggers) moves.",
        ),
        Setting(
            "DJANGO_API_OPEN_ACCESS", BOOL, True,
            "Anyone may create events and read attendee lists, as in local development; "
            "`check --deploy` warns when it is on in production.",
            production=False,
        ),
        Setting(
            "DJANGO_API_BROWSABLE", BOOL, True,
            "DRF's browsable API for browsers, signed in through the admin's session; JSON "
            "clients are answered the same either way.",
            production=False,
        ),
        Setting(
            "DJANGO_TOKEN_TTL_DAYS", DAYS, timedelta(days=30),
            "Days an organiser's bearer token works after it is issued.",
        ),
        Setting(
            "DJANGO_IDEMPOTENCY_TTL_HOURS", HOURS, timedelta(hours=24),
            "Hours an Idempotency-Key and the answer kept for its retries last; "
            "`manage.py purge_idempotency_keys` deletes expired keys.",
        ),
        Setting(
            "DJANGO_TRUSTED_PROXIES", WHOLE, 0,
            "Reverse proxies in front of the app, each appending to X-Forwarded-For. With N, "
            "the client's address is the entry the outermost one appended and "
            "X-Forwarded-Proto: https is believed (by Django and gunicorn); leave 0 when "
            "clients reach gunicorn directly: neither header is then believed.",
        ),
        Setting(
            "DJANGO_SECURE_SSL_REDIRECT", BOOL, False,
            "Redirect plain HTTP to HTTPS; false when a proxy in front redirects by itself.",
            production=True,
        ),
        Setting(
            "DJANGO_SECURE_HSTS_SECONDS", WHOLE, 0,
            "HSTS max-age (subdomains included): how long browsers are told to stay on HTTPS; "
            "start small while moving a domain to HTTPS.",
            production=31_536_000,
        ),
        Setting(
            "DJANGO_SECURE_HSTS_PRELOAD", BOOL, False,
            "Ask browsers to preload HSTS: a commitment for the whole domain and its "
            "subdomains.",
        ),
        Setting(
            "DJANGO_API_THROTTLE", BOOL, False,
            "Request budgets; over budget answers 429 throttled with Retry-After.",
            production=True,
        ),
        Setting(
            "DJANGO_THROTTLE_REGISTER", RATE, "60/min",
            "Budget of registrations per client address.",
        ),
        Setting(
            "DJANGO_THROTTLE_TOKEN", RATE, "10/min", "Budget of token requests per client address."
        ),
        Setting("DJANGO_THROTTLE_CREATE", RATE, "100/hour", "Budget of event creations per user."),
        Setting(
            "DJANGO_THROTTLE_CANCEL", RATE, "60/min",
            "Budget of cancellations by registration token (API and registration page) per "
            "client address.",
        ),
        Setting(
            "DJANGO_THROTTLE_ORGANISE", RATE, "60/min",
            "Budget of organisers' changes (change or cancel an event, remove an attendee) per "
            "user.",
        ),
        Setting(
            "DJANGO_THROTTLE_CACHE_RETRY_SECONDS", SECONDS, 5,
            "After the budgets' cache (Redis) fails, requests go through uncounted for this "
            "long before one asks it again: one request per process pays Redis's timeout, not "
            "every request.",
        ),
        Setting(
            "DJANGO_THROTTLE_FEED", RATE, "30/min",
            "Budget of iCalendar feeds (`/api/events.ics`) computed per client address; a feed "
            "answered from the response cache spends none.",
        ),
        Setting(
            "REDIS_URL", TEXT, "",
            "Where the budgets are counted, shared by every worker and host, e.g. "
            "`redis://127.0.0.1:6379/0`. Empty: each process counts alone in its own memory.",
        ),
        Setting(
            "DJANGO_CACHE_KEY_PREFIX", TEXT, "events",
            "Prefix of the app's keys in that Redis: one per deployment sharing it.",
        ),
        Setting(
            "DJANGO_AXES_FAILURE_LIMIT", WHOLE, 5,
            "Admin sign-in: failures for one username from one address before the pair is "
            "locked out (`manage.py axes_reset` lifts it).",
        ),
        Setting(
            "DJANGO_AXES_COOLOFF_MINUTES", WHOLE, 15,
            "Admin sign-in: minutes a lock-out lasts.",
        ),
        Setting(
            "DJANGO_READINESS_TIMEOUT", SECONDS, 2,
            "/readyz: seconds the database and Redis have to answer before it says 503.",
        ),
        Setting(
            "DJANGO_METRICS_TOKEN", TEXT, "",
            "/metrics: empty, served to this host only (127.0.0.1, ::1, no proxy in between); "
            "set, served anywhere to `Authorization: Bearer <token>` only.",
        ),
        Setting(
            "DJANGO_LOG_FORMAT", LOG_FORMAT, "console",
            "Logs on standard error: human-readable lines, or one JSON object per line.",
            production="json",
        ),
        Setting(
            "DJANGO_LOG_LEVEL", TEXT, "WARNING", "Level from which other lines are logged."
        ),
        Setting(
            "DJANGO_REQUEST_LOG_LEVEL", TEXT, "INFO",
            "One line per request is logged at INFO (the probes' at DEBUG); WARNING turns them "
            "off.",
        ),
        Setting(
            "DJANGO_EMAIL_HOST", TEXT, "",
            "Mail server: set, emails go over SMTP in every mode; empty, they are printed to "
            "the worker's console (and `check --deploy` warns, core.W001, in production).",
        ),
        Setting("DJANGO_EMAIL_PORT", WHOLE, 25, "Mail server's port."),
        Setting("DJANGO_EMAIL_HOST_USER", RAW, "", "User name on the mail server."),
        Setting("DJANGO_EMAIL_HOST_PASSWORD", RAW, "", "Password on the mail server."),
        Setting("DJANGO_EMAIL_USE_TLS", BOOL, False, "STARTTLS on the mail server connection."),
        Setting(
            "DJANGO_EMAIL_TIMEOUT", SECONDS, 10,
            "Seconds one attempt to reach the mail server may take.",
        ),
        Setting(
            "DJANGO_DEFAULT_FROM_EMAIL", TEXT, "events@localhost",
            "The emails' From header, also the calendar invite's ORGANIZER.",
        ),
        Setting(
            "DJANGO_EMAIL_RETRY_BASE_SECONDS", SECONDS, 30,
            "A failed send is retried after this many seconds, then twice as long each time.",
        ),
        Setting(
            "DJANGO_EMAIL_MAX_ATTEMPTS", WHOLE, 8,
            "Tries in all (at least 1; 8 is about two hours), then the message shows as failed "
            "in the admin, for `manage.py retry_messages` or the admin's retry action.",
        ),
        Setting(
            "DJANGO_EMAIL_MAX_PER_MAILBOX_PER_HOUR", WHOLE, 10,
            "Emails anyone can cause by typing an address (registered, waiting list, "
            "registration cancelled) sent to one mailbox in an hour; more are recorded "
            "`skipped` with the reason, never sent (the registration itself succeeds); 0: no cap.",
        ),
        Setting(
            "DJANGO_EMAIL_LEASE_SECONDS", SECONDS, 120,
            "How long the email worker's claim on a message lasts: a message claimed by a "
            "worker that died is sent by another once it runs out. Longer than a send takes.",
        ),
        Setting(
            "DJANGO_EMAIL_WORKER_POLL_SECONDS", SECONDS, 1,
            "How often an idle email worker looks for messages that fell due.",
        ),
        Setting(
            "DJANGO_RETENTION_DAYS", DAYS, timedelta(days=90),
            "Days after an event ends that its attendees' personal data (names, emails, "
            "answers, the emails' copies) is kept; then the worker's hourly pass (or "
            "`manage.py erase_expired`) erases it.",
        ),
        Setting(
            "DJANGO_WEBHOOK_RETRY_BASE_SECONDS", SECONDS, 5,
            "A webhook delivery that failed (timeout, connection error, 429, 5xx) is tried "
            "again after about this many seconds (with jitter), then twice as long each time.",
        ),
        Setting(
            "DJANGO_WEBHOOK_RETRY_HOURS", HOURS, timedelta(hours=72),
            "How long a webhook delivery is retried before it fails; an endpoint "
            "failing that long is switched off and its owner emailed.",
        ),
        Setting(
            "DJANGO_WEBHOOK_LEASE_SECONDS", SECONDS, 60,
            "How long the worker's claim on a webhook delivery lasts: one claimed by a worker "
            "that died is sent again once it runs out. Longer than one request may take (10 s).",
        ),
        Setting(
            "DJANGO_WEBHOOK_LOG_DAYS", DAYS, timedelta(days=30),
            "Webhook messages, their deliveries and attempts are kept this many days, then "
            "purged by the worker.",
        ),
        Setting(
            "DJANGO_WEBHOOKS_ALLOW_HTTP", BOOL, False,
            "Accept `http://` webhook URLs (development only); otherwise `https://` alone.",
        ),
        Setting(
            "DJANGO_WEBHOOKS_ALLOW_PRIVATE", BOOL, False,
            "Deliver webhooks to loopback, private, link-local and other non-public addresses "
            "(development and tests only): off, such a URL is refused when saved and when "
            "connected to.",
        ),
        Setting(
            "DJANGO_PUBLIC_URL", TEXT, "http://127.0.0.1:8000",
            "The site as its users reach it: the base of the links in emails and of the "
            "invites' UIDs (changing it changes the UIDs).",
        ),
        Setting(
            "DJANGO_CALENDAR_FEED_MAX_EVENTS", WHOLE, 5000,
            "The calendar feed (/api/events.ics) holds the soonest this many upcoming events.",
        ),
    ),
    *_section(
        GUNICORN,
        Setting("GUNICORN_BIND", TEXT, "127.0.0.1:8000", "Address and port gunicorn listens on."),
        Setting(
            "GUNICORN_WORKERS", INTEGER,
            Derived("2 × CPU cores", lambda get: multiprocessing.cpu_count() * 2),
            "Worker processes.",
        ),
        Setting(
            "GUNICORN_THREADS", INTEGER, 4,
            "Threads in each worker process: one waiting on a registration's commit leaves the "
            "others serving reads.",
        ),
        Setting(
            "GUNICORN_QUEUE_TIMEOUT", SECONDS, 3,
            "Seconds a request may wait for a free thread (every one busy, e.g. on a frozen "
            "database); past it, it answers 503 service_unavailable at once (0: it waits). "
            "/healthz and /readyz never wait: threads of their own answer them.",
        ),
        Setting(
            "GUNICORN_KEEPALIVE", INTEGER, 5,
            "Seconds an idle client connection is kept open.",
        ),
        Setting(
            "FORWARDED_ALLOW_IPS", LIST,
            Derived(
                "`127.0.0.1,::1` when DJANGO_TRUSTED_PROXIES is above 0, else empty",
                lambda get: ["127.0.0.1", "::1"] if get("DJANGO_TRUSTED_PROXIES") else [],
            ),
            "Addresses whose X-Forwarded-Proto gunicorn believes.",
        ),
        Setting(
            "PROMETHEUS_MULTIPROC_DIR", TEXT, "",
            "Directory of the workers' metrics files, one per gunicorn instance, emptied at "
            "start; empty: a fresh one made at start and removed at exit.",
        ),
    ),
    *_section(
        CLUSTER,
        Setting("CLUSTER_HTTP_PORT", INTEGER, 8080, "nginx: the one URL clients use."),
        Setting(
            "CLUSTER_APP_PORTS", PORTS, [8081, 8082, 8083],
            "One gunicorn instance per port.",
        ),
        Setting(
            "CLUSTER_WORKERS", INTEGER, 2,
            "gunicorn worker processes per instance (GUNICORN_THREADS threads each).",
        ),
        Setting(
            "CLUSTER_PGBOUNCER_PORT", INTEGER, 6433,
            "PgBouncer's port (Debian's own service would take 6432).",
        ),
        Setting(
            "CLUSTER_PG", TEXT, "postgres://postgres@127.0.0.1:5432",
            "The PostgreSQL server, without a database name.",
        ),
        Setting("CLUSTER_DATABASE", TEXT, "events", "The database, created if missing, migrated."),
        Setting(
            "CLUSTER_REDIS_URL", TEXT, "redis://127.0.0.1:6379/2",
            "Redis holding the shared request budgets; started if down and local.",
        ),
        Setting(
            "CLUSTER_POOLER", POOLER_NAME, "pgbouncer",
            "`none`: the instances connect to PostgreSQL directly.",
        ),
        Setting(
            "CLUSTER_RUN_DIR", TEXT, ".cluster",
            "Configs, pid files and logs (relative to the project root).",
        ),
        Setting(
            "MEASURE_PG", TEXT, "postgres://postgres@127.0.0.1:5432",
            "`make scaling`: the PostgreSQL server it measures against.",
        ),
        Setting(
            "MEASURE_CONNECTIONS", INTEGER, 32, "`make scaling`: concurrent client connections."
        ),
    ),
)  # fmt: skip

BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}


# ---------------------------------------------------------------------------------------------
# Reading.


def read(environ: Mapping[str, str] | None = None) -> Mapping[str, Any]:
    """Every setting's value, by variable name, from `environ` (os.environ by default).

    Each variable is parsed once, all of them now: the first malformed value raises
    ImproperlyConfigured naming its variable, whichever program reads it.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in values:
            values[name] = _value(BY_NAME[name], environ, get)
        return values[name]

    for setting in SETTINGS:
        get(setting.name)
    return values


def _value(setting: Setting, environ: Mapping[str, str], get: Callable[[str], Any]) -> Any:
    text = environ.get(setting.name)
    if text is not None and (text.strip() or setting.type.blank_is_value):
        return setting.type.parse(setting.name, text)
    default = setting.default
    if setting.production is not _UNSET and not get("DJANGO_DEBUG"):
        default = setting.production
    # A copy: a program that changes its list must not change the declared default.
    return default.compute(get) if isinstance(default, Derived) else copy.deepcopy(default)


# ---------------------------------------------------------------------------------------------
# The reference.


def _shown(setting: Setting, default: Any) -> str:
    if isinstance(default, Derived):
        return default.text
    if default in ("", []):
        return "empty"
    return f"`{setting.type.show(default)}`"


def _default_cell(setting: Setting) -> str:
    shown = _shown(setting, setting.default)
    if setting.production is _UNSET:
        return shown
    return f"{shown}; *production* {_shown(setting, setting.production)}"


def reference(settings: Iterable[Setting] = SETTINGS) -> str:
    """The configuration reference in Markdown, one table per program."""
    lines = [
        "# Configuration",
        "",
        "<!-- Generated from event_management_system/config.py by `make docs-config`; "
        "do not edit. -->",
        "",
        "*For operators.* By the end of this page you will know every variable the app, "
        "gunicorn and the local cluster read, with its type, default and meaning.",
        "",
        "Every setting is an environment variable, read once when a program starts; a "
        "malformed value stops the start with a message naming its variable. Unset or blank "
        "means the default (a blank list is empty). *production* marks the default when "
        "`DJANGO_DEBUG` is false.",
    ]
    section = None
    for setting in settings:
        if setting.section != section:
            section = setting.section
            lines += [
                "",
                f"## {section}",
                "",
                "| Variable | Type | Default | Description |",
                "|---|---|---|---|",
            ]
        cells = (
            f"`{setting.name}`",
            setting.type.label,
            _default_cell(setting),
            setting.description,
        )
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def env_example(settings: Iterable[Setting] = SETTINGS) -> str:
    """.env.example: the app's and gunicorn's variables, each with its description; a line is
    blank where the default depends on the mode or on another value."""
    lines = [
        "# Generated from event_management_system/config.py by `make docs-config`; do not edit.",
        "# Settings read from the environment (export them, or pass them to the process manager);",
        "# docs/operations/configuration.md has their types. Unset or blank means the default.",
    ]
    section = None
    for setting in settings:
        if setting.section == CLUSTER:
            continue
        if setting.section != section:
            section = setting.section
            lines += ["", f"# --- {section}"]
        text = f"{setting.description} Default: {_default_cell(setting)}.".replace("*", "")
        # A command in backquotes stays on one line, to be copied whole.
        text = re.sub(r"`[^`]*`", lambda code: code[0].replace(" ", "\0"), text)
        wrapped = textwrap.wrap(
            text, width=95, initial_indent="# ", subsequent_indent="# ", break_on_hyphens=False
        )
        lines += ["", *(line.replace("\0", " ") for line in wrapped)]
        default = setting.default
        if isinstance(default, Derived) or setting.production is not _UNSET:
            # A blank list would be an empty one, not the default.
            blank = f"# {setting.name}=" if setting.type.blank_is_value else f"{setting.name}="
            lines.append(blank)
        else:
            lines.append(f"{setting.name}={setting.type.show(default)}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    # python -m event_management_system.config [reference | env-example]
    chosen = sys.argv[1] if len(sys.argv) > 1 else "reference"
    sys.stdout.write({"reference": reference, "env-example": env_example}[chosen]())
