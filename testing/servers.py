"""The app served for real, by gunicorn worker processes, and its task worker, on the database a
test is using."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.db import connection

PROJECT_DIR = Path(__file__).resolve().parent.parent
START_SECONDS = 30
STOP_SECONDS = 20


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


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(
    *, workers: int = 4, env: dict[str, str] | None = None, logs: list[str] | None = None
) -> Iterator[str]:
    """Serve the app with gunicorn on the test database until the block ends; yields its URL.

    The server runs as in production, except that it answers plain HTTP (no redirect to HTTPS)
    and spends no request budgets; `env` adds to or overrides its environment, so a test about
    either turns it back on. On leaving, the server is stopped and its log must hold no
    traceback: an error the server swallowed fails the test. Its log (standard output and
    error, JSON lines from the app) is appended to `logs`, when given, as one text.
    """
    port = free_port()
    log = tempfile.TemporaryFile()
    server_env = {**server_environment(), **(env or {})}
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "event_management_system.wsgi",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning",
        ],
        cwd=PROJECT_DIR,
        env=server_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log)
        yield url
    finally:
        _stop(process)
        log.seek(0)
        server_log = log.read().decode()
        log.close()
        if logs is not None:
            logs.append(server_log)
    assert "Traceback" not in server_log, server_log


@contextmanager
def worker(*, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """Run the email worker (`manage.py send_emails`) on the test database until the block
    ends; yields its process.

    Its environment is gunicorn()'s, so both derive the same tokens; `env` adds to or overrides
    it. On leaving, the worker is stopped and its log must hold no traceback.
    """
    log = tempfile.TemporaryFile()
    process = start_worker(log=log, env=env)
    try:
        yield process
    finally:
        _stop(process)
        log.seek(0)
        worker_log = log.read().decode()
        log.close()
    assert "Traceback" not in worker_log, worker_log


def start_worker(*, log, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start an email worker on the test database, writing to the file `log`; the caller
    stops it."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "send_emails", "--poll", "0.2"],
        cwd=PROJECT_DIR,
        env={**server_environment(), **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def server_environment() -> dict[str, str]:
    """The environment gunicorn() serves in and worker() works in, before their `env`."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "test-only-secret-key-for-the-gunicorn-fixture-0123456789",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_API_THROTTLE": "false",
    }


def post_json(url: str, body: dict) -> tuple[int, dict]:
    """POST `body` as JSON; the status and the JSON answer, whatever the status."""
    return send_json("POST", url, body)


def send_json(
    method: str, url: str, body: dict | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict | None]:
    """Send `body` (if any) as JSON; the status and the JSON answer (None for an empty one)."""
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, _json_or_none(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _json_or_none(error.read())


def _json_or_none(content: bytes) -> dict | None:
    return json.loads(content) if content else None


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hands a redirect back as an HTTPError instead of following it."""

    def redirect_request(self, *args, **kwargs):
        return None


def _wait_until_up(url: str, process: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            urllib.request.build_opener(NoRedirect).open(f"{url}/api/", timeout=2).close()
            return
        except urllib.error.HTTPError:  # any answer, a redirect to HTTPS among them, means up
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"gunicorn did not start: {log.read().decode()}") from None
            time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    # The whole process group: the arbiter and every worker it forked.
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
