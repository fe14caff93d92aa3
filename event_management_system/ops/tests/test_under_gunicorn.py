"""The probes, the metrics and the logs as production serves them: gunicorn, several worker
processes, DJANGO_DEBUG=false, the HTTPS redirect on."""

import json
import os
import re
import signal
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from event_management_system.ops.endpoints import READINESS_FRESH
from event_management_system.ops.tests.scraping import value
from event_management_system.ops.workers import STALE_SECONDS
from event_management_system.tests.tcp_proxy import FreezableProxy
from testing.servers import NoRedirect, database_url, free_port, gunicorn, send_json

pytestmark = pytest.mark.django_db(transaction=True)

# Production as a load balancer meets it: HTTPS redirect on (the fixture turns it off), and
# the instance probed by an address no ALLOWED_HOSTS entry names.
PRODUCTION = {"DJANGO_SECURE_SSL_REDIRECT": ""}
POD_HOST = "10.20.30.40:8000"


def fetch(url: str, **headers: str) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def json_lines(log: str) -> list[dict]:
    """Every line of the server's log, each of which must be a JSON object."""
    return [json.loads(line) for line in log.splitlines() if line.strip()]


def test_probes_answer_plain_http_for_any_host_while_the_api_redirects():
    with gunicorn(workers=2, env=PRODUCTION) as url:
        healthz = fetch(f"{url}/healthz", Host=POD_HOST, Accept="text/html")
        readyz = fetch(f"{url}/readyz", Host=POD_HOST, Accept="text/html")
        metrics = fetch(f"{url}/metrics", Host=POD_HOST)
        api = fetch(f"{url}/api/events/")

    assert (healthz[0], json.loads(healthz[2])) == (200, {"status": "ok"})
    assert healthz[1]["Content-Type"] == "application/json"
    assert (readyz[0], json.loads(readyz[2])) == (
        200,
        {"status": "ok", "checks": {"database": "ok"}},
    )
    assert metrics[0] == 200
    assert "# TYPE http_requests_total counter" in metrics[2].decode()
    assert api[0] == 301
    assert api[1]["Location"].startswith("https://")


def test_metrics_add_up_across_worker_processes(tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    # Left from an earlier run: emptied at start, or the scrape would fail to read it.
    (directory / "counter_99999.db").write_bytes(b"not a metrics file")
    sent = 0

    def read(_):
        return fetch(f"{url}/api/events/")[0]

    with gunicorn(workers=2, env={"PROMETHEUS_MULTIPROC_DIR": str(directory)}) as url:
        with ThreadPoolExecutor(8) as pool:
            # Until two worker processes have each answered some: each writes its own file.
            while len(list(directory.glob("counter_*.db"))) < 2 and sent < 2000:
                assert set(pool.map(read, range(16))) == {200}
                sent += 16
        status, _, body = fetch(f"{url}/metrics")

    assert len(list(directory.glob("counter_*.db"))) == 2
    assert status == 200
    text = body.decode()
    assert value(text, "http_requests_total", view="event-list", status="200") == sent
    assert (
        value(text, "http_request_duration_seconds_count", view="event-list", status="200") == sent
    )


def test_logs_are_one_json_line_per_request_naming_no_secret(organiser_factory, event_factory):
    from api.tokens import issue_token

    organiser = organiser_factory()
    token = issue_token(user=organiser).token
    event = event_factory(max_capacity=5)
    logs: list[str] = []

    with gunicorn(workers=2, logs=logs) as url:
        probe = fetch(f"{url}/healthz")
        read = fetch(f"{url}/api/events/{event.pk}/", **{"X-Request-ID": "trace-0001"})
        status, place = send_json(
            "POST",
            f"{url}/api/events/{event.pk}/register/",
            {"name": "Private Person", "email": "private.person@example.com"},
        )
        mine = fetch(f"{url}/api/me/events/", Authorization=f"Bearer {token}")
        lookup = fetch(f"{url}/api/registrations/{place['token']}/")

    assert (probe[0], read[0], status, mine[0], lookup[0]) == (200, 200, 201, 200, 200)
    assert read[1]["X-Request-ID"] == "trace-0001"
    lines = json_lines(logs[0])
    # The fixture's own requests, asking whether the server is up, left aside.
    requests = [
        line
        for line in lines
        if line["logger"] == "event_management_system.ops.requests" and line["view"] != "api-root"
    ]
    # The probe is not logged at INFO; every other request is, once.
    assert [(line["method"], line["view"], line["status"]) for line in requests] == [
        ("GET", "event-detail", 200),
        ("POST", "event-register", 201),
        ("GET", "own-event-list", 200),
        ("GET", "registration-detail", 200),
    ]
    assert requests[0]["request_id"] == "trace-0001"
    for line in requests:
        assert re.fullmatch(r"trace-0001|[0-9a-f]{32}", line["request_id"])
        assert line["level"] == "info"
        assert line["client"] == "127.0.0.1"
        assert isinstance(line["duration_ms"], float)
    assert requests[2]["user_id"] == organiser.pk
    assert "user_id" not in requests[1]
    for secret in ("private.person", token, place["token"]):
        assert secret not in logs[0]


def unreachable_database() -> str:
    if connection.vendor == "postgresql":
        return database_url(host="127.0.0.1", port=free_port())
    return f"sqlite:///{os.devnull}/no/such/directory/db.sqlite3"


def test_readyz_is_503_naming_the_database_when_it_is_down():
    logs: list[str] = []

    with gunicorn(workers=1, env={"DATABASE_URL": unreachable_database()}, logs=logs) as url:
        healthz = fetch(f"{url}/healthz")
        readyz = fetch(f"{url}/readyz", Accept="text/html")
        api = fetch(f"{url}/api/events/")
        metrics = fetch(f"{url}/metrics")[2].decode()

    assert healthz[0] == 200
    assert readyz[0] == 503
    assert readyz[1]["Content-Type"] == "application/json"
    assert json.loads(readyz[2]) == {"status": "unavailable", "checks": {"database": "error"}}
    assert api[0] == 503
    assert value(metrics, "events_database_errors_total", kind="unavailable") == 1
    assert value(metrics, "http_requests_total", view="readyz", status="503") == 1
    warnings = [
        line
        for line in json_lines(logs[0])
        if line["logger"] == "event_management_system.ops.endpoints"
    ]
    assert [line["event"].startswith("Not ready: database failed") for line in warnings] == [True]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a frozen PostgreSQL server")
def test_readyz_is_503_within_its_timeout_when_the_database_is_frozen():
    settings = connection.settings_dict
    upstream = (settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432))
    env = {"DJANGO_READINESS_TIMEOUT": "1", "DJANGO_DB_CONNECT_TIMEOUT": "2"}

    with FreezableProxy(upstream) as proxy:
        env["DATABASE_URL"] = database_url(host="127.0.0.1", port=proxy.port)
        with gunicorn(workers=1, env=env) as url:
            ready = fetch(f"{url}/readyz")
            time.sleep(READINESS_FRESH)  # that answer serves probes for as long
            proxy.freeze(seconds=10)
            frozen = fetch(f"{url}/readyz")
            alive = fetch(f"{url}/healthz")
            proxy.thaw()

    assert (ready[0], json.loads(ready[2])["checks"]) == (200, {"database": "ok"})
    # "timeout": the check was still waiting when the probe's second ran out.
    assert (frozen[0], json.loads(frozen[2])["checks"]) == (503, {"database": "timeout"})
    assert alive[0] == 200


def gunicorn_processes(url: str) -> tuple[int, set[int]]:
    """The gunicorn master serving `url` and its workers, found by their command lines."""
    bind = url.split("://", 1)[1].encode()
    pids = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and bind in (entry / "cmdline").read_bytes():
                pids.add(int(entry.name))
        except OSError:
            continue  # exited meanwhile
    parents = {pid: int((Path("/proc") / str(pid) / "stat").read_text().split()[3]) for pid in pids}
    [master] = [pid for pid, parent in parents.items() if parent not in pids]
    return master, pids - {master}


def test_gunicorn_s_own_lines_are_json_too():
    logs: list[str] = []

    with gunicorn(workers=2, logs=logs) as url:
        _, workers = gunicorn_processes(url)
        killed = min(workers)
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + 30
        # Until the master has noticed and booted a replacement.
        while killed in gunicorn_processes(url)[1] or len(gunicorn_processes(url)[1]) < 2:
            assert time.monotonic() < deadline, "no worker replaced the killed one"
            time.sleep(0.1)
        assert fetch(f"{url}/healthz")[0] == 200

    lines = json_lines(logs[0])
    assert {
        "logger": "gunicorn.error",
        "level": "error",
        "event": f"Worker (pid:{killed}) was sent SIGKILL! Perhaps out of memory?",
    }.items() <= next(line for line in lines if line["logger"] == "gunicorn.error").items()
    # gunicorn's access line, which would name paths, stays off.
    assert not [line for line in lines if line["logger"] == "gunicorn.access"]


SECRET_LOOKING = "rT0k-3nS3cr3tV4lu3-9f8e7d6c5b4a"
MALFORMED = [
    f"GET /api/registrations/{SECRET_LOOKING}/\r\n\r\n",  # no version: a request line
    f"GET /api/registrations/{SECRET_LOOKING}/\x7f HTTP/1.1\r\n\r\n",  # a target
    f"GET /api/events/ HTTP/1.1 /api/registrations/{SECRET_LOOKING}/\r\n\r\n",  # a version
    f"G\x01T/api/registrations/{SECRET_LOOKING}/ HTTP/1.1\r\n\r\n",  # a method
    f"GET /api/events/ HTTP/1.1\r\nX{SECRET_LOOKING}\x01: x\r\n\r\n",  # a header
]


def send_raw(url: str, data: str) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data.encode("latin-1"))
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_a_malformed_request_is_logged_without_what_it_sent_nor_a_stale_request_id(log_format):
    """gunicorn's line about a malformed request names its kind and address only: the request
    line (a registration's token travels in its path) and headers stay out of the log, and no
    request id of an earlier request in the same thread is attached to it."""
    logs: list[str] = []
    env = {"DJANGO_LOG_FORMAT": log_format, "GUNICORN_THREADS": "1"}
    with gunicorn(workers=1, env=env, logs=logs) as url:
        for data in MALFORMED:
            # A request answered first, in the one thread that then reads the malformed one.
            assert fetch(f"{url}/api/events/")[0] == 200
            assert send_raw(url, data).startswith(b"HTTP/1.1 400 Bad Request")
    log = logs[0]

    assert SECRET_LOOKING not in log
    assert "/api/registrations/" not in log
    assert log.count("Invalid request from ip=127.0.0.1") == len(MALFORMED)
    if log_format == "json":
        invalid = [line for line in json_lines(log) if "Invalid request" in line["event"]]
        assert len(invalid) == len(MALFORMED)
        assert [line.get("request_id") for line in invalid] == [None] * len(MALFORMED)
        assert {line["logger"] for line in invalid} == {"gunicorn.error"}


def socket_inode(*, local_port: int, remote_port: int | None = None) -> str:
    """The inode of the loopback TCP socket on `local_port` (listening, without `remote_port`)."""
    [inode] = [
        fields[9]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if (fields := line.split())
        and int(fields[1].split(":")[1], 16) == local_port
        and (
            int(fields[2].split(":")[1], 16) == remote_port
            if remote_port is not None
            else fields[3] == "0A"  # LISTEN
        )
    ]
    return inode


def descriptor_of(pid: int, inode: str) -> int | None:
    """The file descriptor through which process `pid` holds socket `inode`, if it does."""
    for fd in (Path("/proc") / str(pid) / "fd").iterdir():
        try:
            if os.readlink(fd) == f"socket:[{inode}]":
                return int(fd.name)
        except OSError:
            continue  # closed meanwhile
    return None


def watching_for_connections(pid: int, listener: str) -> bool:
    """Whether worker `pid` has its app loaded and waits for connections: its event loop's
    epoll watches the listening socket."""
    fd = descriptor_of(pid, listener)
    for info in (Path("/proc") / str(pid) / "fdinfo").iterdir():
        try:
            if re.search(rf"^tfd:\s+{fd}\s", info.read_text(), re.MULTILINE):
                return True
        except OSError:
            continue
    return False


def started_workers(url: str) -> tuple[int, set[int]]:
    """The port of gunicorn at `url` and its workers, once every one of them waits for
    connections."""
    _, workers = gunicorn_processes(url)
    port = int(url.rsplit(":", 1)[1])
    listener = socket_inode(local_port=port)
    deadline = time.monotonic() + 30
    while not all(watching_for_connections(pid, listener) for pid in workers):
        assert time.monotonic() < deadline, "the workers did not all start"
        time.sleep(0.1)
    return port, workers


def probe_at_once(port: int, count: int, timeout: float) -> list[socket.socket]:
    """`count` connections opened at once, each then asked /healthz and answered 200 within
    `timeout` seconds; left open (the caller closes them)."""
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    for client in clients:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    for client in clients:
        client.settimeout(timeout)
        assert client.recv(65536).startswith(b"HTTP/1.1 200 ")
    return clients


def holders(port: int, clients: list[socket.socket], workers: set[int]) -> list[int | None]:
    """For each client connection, the worker holding its server end (None: none yet)."""
    held = []
    for client in clients:
        inode = socket_inode(local_port=port, remote_port=client.getsockname()[1])
        held.append(next((pid for pid in workers if descriptor_of(pid, inode) is not None), None))
    return held


@pytest.mark.parametrize("asking", ["at once", "later"])
def test_connections_opened_at_once_are_shared_evenly_by_the_workers(asking):
    # A client that opens its kept-alive connections at once, as a load balancer's pool or a
    # load test does: a worker's threads share one core, so all of them on one worker would
    # leave the others idle. They are shared whether their requests come with them or later,
    # when nothing but the new connections wakes a worker.
    with gunicorn(workers=4) as url:
        port, workers = started_workers(url)
        if asking == "at once":
            clients = probe_at_once(port, 16, timeout=30)
        else:
            clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
        try:
            deadline = time.monotonic() + 30
            while None in (held := holders(port, clients, workers)):
                assert time.monotonic() < deadline, "connections left waiting to be taken"
                time.sleep(0.05)
        finally:
            for client in clients:
                client.close()

    assert sorted(held.count(pid) for pid in workers) == [4, 4, 4, 4]


def test_a_worker_that_stops_answering_does_not_hold_connections_back():
    # Frozen (SIGSTOP), a worker holds no connection and never beats again: the other takes one
    # connection, then waits for the frozen one to take its share until it is seen gone.
    with gunicorn(workers=2) as url:
        port, workers = started_workers(url)
        frozen = min(workers)
        os.kill(frozen, signal.SIGSTOP)
        try:
            started = time.monotonic()
            clients = probe_at_once(port, 4, timeout=STALE_SECONDS + 10)
            waited = time.monotonic() - started
            for client in clients:
                client.close()
        finally:
            os.kill(frozen, signal.SIGCONT)

    assert waited < STALE_SECONDS + 5
