"""/healthz, /readyz and /metrics, answered before the rest of the middleware stack.

Probes come from inside, over plain HTTP, with whatever host the prober knows the instance by
(127.0.0.1, a pod's address), so these answers are given before host validation
(ALLOWED_HOSTS), the HTTPS redirect, the response cache and the request budgets; they are
never cached (`Cache-Control: no-store`) and always JSON (the metrics excepted), whatever the
`Accept` header says. Each takes GET or HEAD.

- /healthz: 200 while the process can answer; it reads nothing else.
- /readyz: 200 when the database answers `SELECT 1`, and Redis (when REDIS_URL is set) a PING,
  within settings.READINESS_TIMEOUT seconds; otherwise 503, with each dependency's result:
  `ok`, `timeout` or `error` (the error itself is logged, as a warning, not sent).
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
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

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


# Readiness: each dependency is asked in a thread of its own, so a frozen one costs the probe
# READINESS_TIMEOUT, not the connect or statement timeouts a request would wait.


def _database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        # A fresh connection each time: what a restarted worker would need, and none left open.
        connection.close()


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
_executors_lock = threading.Lock()


def _executor(name: str) -> ThreadPoolExecutor:
    # One thread per dependency, started at the first probe (so after gunicorn forks): a check
    # still stuck from an earlier probe leaves the next one queued behind it, then cancelled.
    with _executors_lock:
        if name not in _executors:
            _executors[name] = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"ready-{name}")
        return _executors[name]


def readiness() -> dict[str, str]:
    """Each configured dependency's answer within READINESS_TIMEOUT: ok, timeout or error."""
    names = ["database", *(["redis"] if settings.REDIS_URL else [])]
    futures: dict[str, Future] = {
        name: _executor(name).submit(DEPENDENCIES[name]) for name in names
    }
    deadline = time.monotonic() + settings.READINESS_TIMEOUT
    results = {}
    for name, future in futures.items():
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
            results[name] = "ok"
        except FutureTimeout:
            future.cancel()
            logger.warning(
                "Not ready: %s did not answer within %ss", name, settings.READINESS_TIMEOUT
            )
            results[name] = "timeout"
        except Exception as error:  # whatever the dependency raised, the probe answers 503
            logger.warning("Not ready: %s failed: %s", name, error)
            results[name] = "error"
    return results
