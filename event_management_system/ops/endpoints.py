"""/healthz, /readyz and /metrics, answered before the rest of the middleware stack.

Probes come from inside, over plain HTTP, with whatever host the prober knows the instance by
(127.0.0.1, a pod's address), so these answers are given before host validation
(ALLOWED_HOSTS), the HTTPS redirect, the response cache and the request budgets; they are
never cached (`Cache-Control: no-store`) and always JSON (the metrics excepted), whatever the
`Accept` header says. Each takes GET or HEAD.

- /healthz: 200 while the process can answer; it reads nothing else.
- /readyz: 200 when the database answers `SELECT 1`, and Redis (when REDIS_URL is set) a PING,
  within settings.READINESS_TIMEOUT seconds; otherwise 503, with each dependency's result:
  `ok`, `timeout` or `error` (the error itself is logged, as a warning, not sent). Checked by a
  thread per dependency on a connection it keeps, at most once per READINESS_FRESH seconds:
  probes share the latest answer (see readiness() below).

Under gunicorn the probes have threads of their own (ops/workers.py): they never wait behind
requests holding every request thread.
- /metrics: Prometheus' text format, or OpenMetrics when asked for (ops/metrics.py). With
  DJANGO_METRICS_TOKEN set, only for `Authorization: Bearer <token>`; without it, only for a
  client on this host: the connection comes from a loopback address and, unless
  DJANGO_TRUSTED_PROXIES says proxies stand in front, no proxy relayed it (no X-Forwarded-For).
"""

import hmac
import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import suppress

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse

from event_management_system.ops import metrics
from event_management_system.ops.clients import client_address

logger = logging.getLogger(__name__)

HEALTHZ = "/healthz"
READYZ = "/readyz"
METRICS = "/metrics"
PROBE_PATHS = frozenset({HEALTHZ, READYZ})
# The view label and log name of each path answered here.
ENDPOINT_VIEWS = {HEALTHZ: "healthz", READYZ: "readyz", METRICS: "metrics"}

METHODS = ("GET", "HEAD")
FORBIDDEN_MESSAGE = (
    "The metrics are served to this host only; set DJANGO_METRICS_TOKEN to scrape from elsewhere."
)
UNAUTHORIZED_MESSAGE = "The metrics need the bearer token set in DJANGO_METRICS_TOKEN."


def error_response(detail: str, code: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status)


def healthz(request) -> HttpResponse:
    return JsonResponse({"status": "ok"})


def readyz(request) -> HttpResponse:
    checks = readiness()
    ready = all(result == "ok" for result in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


def metrics_view(request) -> HttpResponse:
    if settings.METRICS_TOKEN:
        if not _bearer_matches(request, settings.METRICS_TOKEN):
            response = error_response(UNAUTHORIZED_MESSAGE, "not_authenticated", 401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif not _from_this_host(request):
        return error_response(FORBIDDEN_MESSAGE, "permission_denied", 403)
    body, content_type = metrics.exposition(request.headers.get("Accept", ""))
    return HttpResponse(body, content_type=content_type)


ENDPOINTS = {HEALTHZ: healthz, READYZ: readyz, METRICS: metrics_view}


class OperationsMiddleware:
    """Answers ENDPOINTS' paths itself; every other request goes on down the stack."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        endpoint = ENDPOINTS.get(request.path_info)
        if endpoint is None:
            return self.get_response(request)
        if request.method not in METHODS:
            response = error_response(
                f'Method "{request.method}" not allowed.', "method_not_allowed", 405
            )
            response["Allow"] = ", ".join(METHODS)
        else:
            response = endpoint(request)
        response["Cache-Control"] = "no-store"
        if request.method == "HEAD":
            response.content = b""
        return response


def _bearer_matches(request, token: str) -> bool:
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def _from_this_host(request) -> bool:
    if settings.TRUSTED_PROXIES:
        address = client_address(request)
    elif "HTTP_X_FORWARDED_FOR" in request.META:
        # Relayed by a proxy the app was not told about: the connection's address is the
        # proxy's, and says nothing of the client's.
        return False
    else:
        address = request.META.get("REMOTE_ADDR")
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


# Readiness: each dependency is checked by a thread of its own, so a frozen one costs a probe
# READINESS_TIMEOUT at most, never the connect or statement timeouts a request would wait. A
# check's answer serves every probe for READINESS_FRESH seconds, and a check still running is
# waited for, never doubled: however many probes arrive (the path is public), a process sends
# each dependency one check at a time and at most one a second.
READINESS_FRESH = 1.0


def _database() -> None:
    # The check's thread keeps its connection, as a request thread does (DJANGO_CONN_MAX_AGE):
    # one the server closed meanwhile is replaced at its first statement by the backend.
    connection.close_if_unusable_or_obsolete()
    if bound_statements := getattr(connection, "bound_statements", None):
        bound_statements(read=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        cut = getattr(connection, "cut_by_watchdog", False)
        with suppress(Exception):
            connection.close()  # cut or broken: the next check connects afresh
        if cut:  # the backend's watchdog ended the wait: the server did not answer in time
            raise TimeoutError("The database did not answer in time.") from error
        raise
    finally:
        if connection.settings_dict["OPTIONS"].get("pool"):
            connection.close()  # lent back: the pool's connections are the requests'


_redis_clients: dict[str, redis.Redis] = {}


def _redis() -> None:
    url = settings.REDIS_URL
    client = _redis_clients.get(url)
    if client is None:
        timeout = settings.READINESS_TIMEOUT
        client = _redis_clients[url] = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
    client.ping()


DEPENDENCIES = {"database": _database, "redis": _redis}

_executors: dict[str, ThreadPoolExecutor] = {}
# Each dependency's latest check: its future (the seconds it took) and when it started.
_checks: dict[str, tuple[Future, float]] = {}
_checks_lock = threading.Lock()


def _timed(check: Callable[[], None]) -> float:
    start = time.monotonic()
    check()
    return time.monotonic() - start


def _latest_check(name: str) -> tuple[Future, float]:
    """The check of `name` to answer from: the one running, a fresh one's, or a new one."""
    with _checks_lock:
        now = time.monotonic()
        latest = _checks.get(name)
        if latest is None or (latest[0].done() and now - latest[1] >= READINESS_FRESH):
            if name not in _executors:  # started at the first probe, so after gunicorn forks
                _executors[name] = ThreadPoolExecutor(1, thread_name_prefix=f"ready-{name}")
            latest = _checks[name] = (_executors[name].submit(_timed, DEPENDENCIES[name]), now)
        return latest


def readiness() -> dict[str, str]:
    """Each configured dependency's answer within READINESS_TIMEOUT: ok, timeout or error."""
    names = ["database", *(["redis"] if settings.REDIS_URL else [])]
    checks = {name: _latest_check(name) for name in names}
    limit = settings.READINESS_TIMEOUT
    results = {}
    for name, (future, started) in checks.items():
        try:
            took = future.result(timeout=max(0.0, started + limit - time.monotonic()))
            results[name] = "ok" if took <= limit else "timeout"
        except (FutureTimeout, TimeoutError):
            results[name] = "timeout"
        except Exception as error:  # whatever the dependency raised, the probe answers 503
            logger.warning("Not ready: %s failed: %s", name, error)
            results[name] = "error"
        if results[name] == "timeout":
            logger.warning("Not ready: %s did not answer within %ss", name, limit)
    return results


def forget_readiness() -> None:
    """Close the checks' connections, stop their threads and forget their answers: a process
    that served probes and goes on without (a test run) keeps no connection open."""
    with _checks_lock:
        for name, executor in _executors.items():
            if name == "database":
                with suppress(Exception):  # a check still stuck is given a second
                    executor.submit(connection.close).result(timeout=1)
            executor.shutdown(wait=False)
        _executors.clear()
        _checks.clear()
