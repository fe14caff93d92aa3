"""The service's Prometheus metrics, and their exposition aggregated across worker processes.

Under gunicorn, gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR at a fresh directory before
any worker starts: every worker writes its samples there (prometheus_client's multiprocess
mode), and /metrics, answered by whichever worker takes the scrape, reads them all. Without it
(runserver, tests) the process's own registry is exposed.

Label values are bounded: a view's route name (never a path), a status code, and the fixed sets
below, all present from the start with zero.
"""

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from core.checkin import CheckInOutcome
from core.rules import RegistrationOutcome

# prometheus_client reads the variable once, when first imported; so does this module.
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered, by view and status.", ["view", "status"]
)
REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from a request reaching the app to its answer leaving it, by view and status.",
    ["view", "status"],
)

# How a registration ended (core.rules.RegistrationOutcome), or refused for its request budget.
REGISTRATION_OUTCOMES = (*(outcome.value for outcome in RegistrationOutcome), "throttled")
REGISTRATIONS = Counter(
    "events_registrations_total", "Registration requests, by how they ended.", ["outcome"]
)

# How a scan at the door ended (core.checkin.CheckInOutcome), each scan of a batch too.
CHECKIN_OUTCOMES = tuple(outcome.value for outcome in CheckInOutcome)
CHECKINS = Counter("events_checkins_total", "Tickets scanned at the door, by outcome.", ["outcome"])

DATABASE_ERROR_KINDS = (
    "lock_timeout",
    "statement_timeout",
    "deadlock",
    "serialization_failure",
    "unavailable",
)
DATABASE_ERRORS = Counter(
    "events_database_errors_total",
    "Requests the database failed to serve, by kind: a lock or statement past its timeout, a "
    "deadlock or serialization failure, or a server unreachable or gone (unavailable).",
    ["kind"],
)

RESPONSE_CACHE = Counter(
    "events_response_cache_requests_total",
    "Event reads the response cache could answer, by result (hit or miss).",
    ["result"],
)

for _outcome in REGISTRATION_OUTCOMES:
    REGISTRATIONS.labels(_outcome)
for _outcome in CHECKIN_OUTCOMES:
    CHECKINS.labels(_outcome)
for _kind in DATABASE_ERROR_KINDS:
    DATABASE_ERRORS.labels(_kind)
CACHE_HITS = RESPONSE_CACHE.labels("hit")
CACHE_MISSES = RESPONSE_CACHE.labels("miss")

# (view, status) -> the counter and histogram children: one dict read per request instead of
# two locked label lookups. Bounded like the labels themselves.
_request_series: dict[tuple[str, int], tuple] = {}


def observe_request(view: str, status: int, seconds: float) -> None:
    series = _request_series.get((view, status))
    if series is None:
        label = str(status)
        series = _request_series[(view, status)] = (
            REQUESTS.labels(view, label),
            REQUEST_DURATION.labels(view, label),
        )
    series[0].inc()
    series[1].observe(seconds)


class WebhookQueueCollector:
    """The webhooks' delivery, read from the database at each scrape, whichever process (the
    worker) delivered them: `events_webhook_deliveries_total{outcome}`, the attempts in the
    kept log (DJANGO_WEBHOOK_LOG_DAYS; a purge shows as a counter reset), and
    `events_webhook_oldest_undelivered_seconds`, the age of the oldest message not yet
    delivered everywhere, so that a stuck queue shows."""

    DELIVERIES = ("events_webhook_deliveries", "Webhook delivery attempts, by outcome.")
    OLDEST = (
        "events_webhook_oldest_undelivered_seconds",
        "Age of the oldest webhook message with a delivery still pending (0: none).",
    )

    def describe(self):
        # Registering reads the names here, not from a query.
        yield CounterMetricFamily(*self.DELIVERIES, labels=["outcome"])
        yield GaugeMetricFamily(*self.OLDEST)

    def collect(self):
        from django.db import DatabaseError

        from core.webhooks import attempts_by_outcome, oldest_undelivered_age

        try:
            counts, age = attempts_by_outcome(), oldest_undelivered_age()
        except DatabaseError:
            return  # the database's trouble shows in /readyz; the other metrics still answer
        deliveries = CounterMetricFamily(*self.DELIVERIES, labels=["outcome"])
        for outcome, count in counts.items():
            deliveries.add_metric([outcome], count)
        yield deliveries
        yield GaugeMetricFamily(*self.OLDEST, value=age)


WEBHOOK_QUEUE = WebhookQueueCollector()
REGISTRY.register(WEBHOOK_QUEUE)


def count_registration(outcome: str) -> None:
    REGISTRATIONS.labels(outcome).inc()


def count_checkin(outcome: str) -> None:
    CHECKINS.labels(outcome).inc()


# SQLSTATE codes PostgreSQL answers with, by the kind they count as.
SQLSTATE_KINDS = {
    "55P03": "lock_timeout",
    "57014": "statement_timeout",
    "40P01": "deadlock",
    "40001": "serialization_failure",
}


def database_error_kind(error: BaseException) -> str:
    """The kind a database error counts as; anything unrecognised is `unavailable`."""
    # Django wraps the driver's error: the driver's own is the cause.
    cause = error.__cause__ or error
    kind = SQLSTATE_KINDS.get(getattr(cause, "sqlstate", None) or "")
    if kind is not None:
        return kind
    # SQLite's busy timeout ran out waiting for another writer's lock.
    if "database is locked" in str(cause):
        return "lock_timeout"
    return "unavailable"


def count_database_error(error: BaseException) -> None:
    DATABASE_ERRORS.labels(database_error_kind(error)).inc()


def exposition(accept: str) -> tuple[bytes, str]:
    """Every metric, summed over the worker processes if several, and its content type: the
    format the scraper's `Accept` asks for (OpenMetrics), else Prometheus' text format."""
    encode, content_type = choose_encoder(accept)
    if MULTIPROCESS:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        registry.register(WEBHOOK_QUEUE)
        return encode(registry), content_type
    return encode(REGISTRY), content_type
