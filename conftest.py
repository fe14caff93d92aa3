"""Fixtures shared by every test package."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from core.tests.factories import AttendeeFactory, EventFactory

BASE_DIR = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def response_cache_only_where_asked(request, settings):
    """Tests see every write at once unless they test the response cache itself.

    A test's writes never commit, so they never advance the data version the cache
    follows; tests marked `response_cache` commit for real (transactional_db).
    """
    from api.caching import response_cache

    response_cache.clear()
    settings.API_RESPONSE_CACHE = request.node.get_closest_marker("response_cache") is not None
    yield
    response_cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def event_factory():
    return EventFactory


@pytest.fixture
def attendee_factory():
    return AttendeeFactory


@pytest.fixture
def fast_passwords(settings):
    """Staff users whose passwords hash in microseconds: tests need logins, not brute-force cost."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def in_days():
    """`in_days(n)`: an aware datetime n days from now (negative for the past)."""
    return lambda days, **extra: timezone.now() + timedelta(days=days, **extra)


def race(workers: int, task: Callable[[int], object]) -> list[object]:
    """Run `task(i)` in `workers` threads released together; return results or exceptions.

    Each thread closes its own database connections, as a request thread would.
    """
    barrier = threading.Barrier(workers)
    results: list[object] = [None] * workers

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = task(index)
        except Exception as error:  # the caller inspects every outcome
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def database_url(*, host: str | None = None, port: int | None = None) -> str:
    """A DATABASE_URL naming the database the current test is using (at `host:port` if given)."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(settings['NAME']).resolve()}"
    user = quote(settings.get("USER") or "")
    password = quote(settings.get("PASSWORD") or "")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = host or settings.get("HOST") or "localhost"
    port = port or settings.get("PORT") or 5432
    return f"postgresql://{credentials}{host}:{port}/{settings['NAME']}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(database_url: str, *, workers: int = 4, env: dict[str, str] | None = None):
    """The app served by gunicorn with `workers` processes on `database_url`; yields its URL.

    `env` adds to the server's environment (GUNICORN_THREADS, DJANGO_DB_* ...). On exit the
    server is stopped, and its log must hold no traceback.
    """
    port = _free_port()
    log = tempfile.TemporaryFile()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "test-only-secret-key-for-the-gunicorn-fixture-0123456789",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        **(env or {}),
    }
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "event_management_system.wsgi",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/", timeout=2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log.seek(0)
                raise RuntimeError(f"gunicorn did not start: {log.read().decode()}") from None
            time.sleep(0.2)
    try:
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.seek(0)
        server_log = log.read().decode()
        log.close()
        assert "Traceback" not in server_log, server_log


@pytest.fixture
def gunicorn_server(transactional_db):
    """The app served by gunicorn with 4 worker processes on the test database; yields its URL."""
    with gunicorn(database_url()) as url:
        yield url
