"""The cluster of deploy/cluster.py, as `make cluster` starts it (nginx, three gunicorn
instances, the email worker, PgBouncer in transaction mode, Redis), on the test database:
every request goes through nginx unless it names one instance's own port."""

import http.client
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection

from api.tokens import issue_token
from core.models import Attendee, Event, MessageStatus, OutgoingMessage
from core.tests.factories import EventFactory, OrganiserFactory
from deploy import cluster as deploy
from testing.servers import free_port

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the cluster runs PgBouncer for PostgreSQL"
    ),
    pytest.mark.django_db(transaction=True),
]


def require_tools() -> None:
    missing = [name for name in ("nginx", "pgbouncer") if not deploy.installed(name)]
    if not missing:
        return
    reason = (
        f"{' and '.join(missing)} not installed; install with: "
        f"apt-get install -y {' '.join(deploy.PACKAGES[n] for n in missing)}"
    )
    if os.environ.get("REQUIRE_CLUSTER") == "1":
        pytest.fail(f"REQUIRE_CLUSTER=1, but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def cluster(django_db_setup, redis_url):
    """The cluster on free ports and the test database, for the module's tests."""
    require_tools()
    settings = connection.settings_dict
    the_cluster = deploy.Cluster(
        run_dir=Path(tempfile.mkdtemp(prefix="cluster-")),
        http_port=free_port(),
        app_ports=[free_port() for _ in range(3)],
        pgbouncer_port=free_port(),
        pg=f"postgres://{settings['USER'] or 'postgres'}@127.0.0.1:{settings['PORT'] or 5432}",
        database=settings["NAME"],
        redis_url=redis_url,
        app_env={
            # Budgets stay on, counted in Redis, but far above what the tests send.
            "DJANGO_THROTTLE_REGISTER": "1000000/min",
            "DJANGO_CACHE_KEY_PREFIX": f"test-cluster-{uuid.uuid4().hex}",
        },
    )
    deploy.start(the_cluster)
    try:
        yield the_cluster
    finally:
        deploy.stop(the_cluster)
    logs = "".join(
        path.read_text()
        for path in [*the_cluster.run_dir.glob("app*.log"), the_cluster.run_dir / "worker.log"]
    )
    assert "Traceback" not in logs, logs
    shutil.rmtree(the_cluster.run_dir)  # kept, with every log, when the assertion fails


@pytest.fixture(autouse=True)
def outbox_drained(cluster):
    """After each test, the cluster's worker has sent every email the test caused: checked, and
    waited for before the test database is emptied under the worker."""
    yield
    deadline = time.monotonic() + 120
    while OutgoingMessage.objects.filter(status=MessageStatus.QUEUED).exists():
        assert time.monotonic() < deadline, "the cluster's worker left emails unsent"
        time.sleep(0.2)


@pytest.fixture
def organiser():
    """An organiser and the Authorization header of a fresh token of theirs."""
    user = OrganiserFactory()
    return user, {"Authorization": f"Bearer {issue_token(user=user).token}"}


def call(
    url: str, method: str = "GET", body: dict | None = None, headers: dict | None = None
) -> tuple[int, dict, dict | None]:
    """One request on a fresh connection: status, headers and JSON body; status 0 when the
    connection failed before an answer."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(
            method,
            parts.path + (f"?{parts.query}" if parts.query else ""),
            body=None if body is None else json.dumps(body),
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        response = conn.getresponse()
        content = response.read()
        return response.status, dict(response.getheaders()), json.loads(content or "null")
    except (OSError, http.client.HTTPException):
        return 0, {}, None
    finally:
        conn.close()


def register(base: str, event_id: int, email: str, key: str | None = None):
    headers = {"Idempotency-Key": key} if key else {}
    body = {"name": email.split("@")[0], "email": email}
    return call(f"{base}/api/events/{event_id}/register/", "POST", body, headers)


def run_threads(count: int, target) -> None:
    threads = [threading.Thread(target=target, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)


def upstreams_in_access_log(the_cluster, marker: str) -> Counter:
    """How many requests whose line holds `marker` each instance answered, per nginx's log."""
    served = Counter()
    for line in (the_cluster.run_dir / "nginx-access.log").read_text().splitlines():
        if marker in line:
            served[line.split("upstream=")[1].split()[0]] += 1
    return served


def test_64_clients_racing_for_200_seats_seat_exactly_200(cluster, organiser):
    owner, auth = organiser
    event = EventFactory(owner=owner, max_capacity=200)
    clients, attempts = 64, 5
    statuses = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client(index: int) -> None:
        barrier.wait(timeout=30)
        for attempt in range(attempts):
            status, _, body = register(cluster.url, event.pk, f"c{index}-{attempt}@example.com")
            with lock:
                statuses[(status, (body or {}).get("code"))] += 1

    run_threads(clients, client)

    assert statuses == {(201, None): 200, (409, "event_full"): 64 * 5 - 200}, statuses
    assert Attendee.objects.filter(event=event).count() == 200
    assert Event.objects.get(pk=event.pk).seats_taken == 200
    _, _, detail = call(f"{cluster.url}/api/events/{event.pk}/")
    assert detail["attendee_count"] == 200
    # The crowd was spread over every instance.
    served = upstreams_in_access_log(cluster, f"/api/events/{event.pk}/register/")
    assert set(served) == {f"127.0.0.1:{port}" for port in cluster.app_ports}, served
    print(f"race: {dict(statuses)}; seated {detail['attendee_count']}; served {dict(served)}")


def test_the_cluster_s_worker_sends_each_confirmation(cluster, organiser):
    owner, _ = organiser
    event = EventFactory(owner=owner, max_capacity=10)

    status, _, _ = register(cluster.url, event.pk, "confirm.me@example.com")

    assert status == 201
    message = OutgoingMessage.objects.get(email="confirm.me@example.com")
    deadline = time.monotonic() + 30
    while message.status == MessageStatus.QUEUED and time.monotonic() < deadline:
        time.sleep(0.2)
        message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    # No mail server is configured: the worker's console backend printed it to its log.
    # The name holds a dot: the standard library quotes it (core.mail.mailbox).
    worker_log = (cluster.run_dir / "worker.log").read_text()
    assert 'To: "confirm.me" <confirm.me@example.com>' in worker_log


def test_a_registration_is_read_at_once_through_every_other_instance(cluster, organiser):
    owner, auth = organiser
    event = EventFactory(owner=owner, max_capacity=50)
    instances = [cluster.app_url(index) for index in range(len(cluster.app_ports))]
    seen = []
    for round_ in range(3):
        for writer, writer_url in enumerate(instances):
            # Every instance has answered (and cached) the current list before the write.
            for url in instances:
                assert call(f"{url}/api/events/{event.pk}/")[2]["attendee_count"] == len(seen)
            email = f"w{writer}-r{round_}@example.com"
            status, _, body = register(writer_url, event.pk, email)
            assert status == 201, body
            seen.append(email)
            for url in instances:
                if url == writer_url:
                    continue
                _, _, detail = call(f"{url}/api/events/{event.pk}/")
                assert detail["attendee_count"] == len(seen)
                status, _, attendees = call(f"{url}/api/events/{event.pk}/attendees/", headers=auth)
                assert status == 200, attendees
                assert attendees["count"] == len(seen)
                assert sorted(a["email"] for a in attendees["results"]) == sorted(seen)

    # Through nginx too: written through the balancer, read through each instance.
    status, _, _ = register(cluster.url, event.pk, "via-nginx@example.com")
    assert status == 201
    for url in instances:
        _, _, attendees = call(f"{url}/api/events/{event.pk}/attendees/", headers=auth)
        assert "via-nginx@example.com" in {a["email"] for a in attendees["results"]}


SLOW_CLIENTS = 16
SLOW_BOUND = 30.0
WINDOW = 15.0


def test_slow_clients_do_not_hold_the_app(cluster, organiser):
    owner, _ = organiser
    event = EventFactory(owner=owner, max_capacity=100_000)
    stop = threading.Event()
    slow_held: list[float] = []  # how long each slow connection lasted before the server cut it
    lock = threading.Lock()

    def slow_client(index: int) -> None:
        # Headers a byte a second, each connection given up after SLOW_BOUND seconds; a new one
        # is opened whenever the server cuts one, until the window ends.
        request = b"GET /api/events/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"x" * 64
        while not stop.is_set():
            opened = time.monotonic()
            with socket.create_connection(("127.0.0.1", cluster.http_port), timeout=5) as sock:
                sock.settimeout(1.2)
                for byte in request:
                    if stop.is_set() or time.monotonic() - opened > SLOW_BOUND:
                        return
                    try:
                        sock.sendall(bytes([byte]))
                        if sock.recv(1024) == b"":
                            break  # closed by the server
                    except TimeoutError:
                        continue  # nothing to read: still open
                    except OSError:
                        break  # reset by the server
                    else:
                        break  # an answer (408) then the close
                with lock:
                    slow_held.append(time.monotonic() - opened)

    latencies: list[float] = []
    errors = Counter()

    def normal_client(index: int) -> None:
        sent = 0
        while not stop.is_set():
            start = time.monotonic()
            if sent % 4 == 3:
                status, _, _ = register(cluster.url, event.pk, f"n{index}-{sent}@example.com")
            else:
                status, _, _ = call(f"{cluster.url}/api/events/{event.pk}/")
            with lock:
                latencies.append(time.monotonic() - start)
                if status not in (200, 201):
                    errors[status] += 1
            sent += 1

    slow = [threading.Thread(target=slow_client, args=(i,)) for i in range(SLOW_CLIENTS)]
    for thread in slow:
        thread.start()
    time.sleep(2)  # every slow client is connected and dripping before the measure starts
    normal = [threading.Thread(target=normal_client, args=(i,)) for i in range(4)]
    for thread in normal:
        thread.start()
    time.sleep(WINDOW)
    stop.set()
    for thread in [*slow, *normal]:
        thread.join(timeout=60)

    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    assert len(latencies) >= 200, len(latencies)
    assert not errors, errors
    assert p99 < 1.0, f"p99 {p99:.3f}s over {len(latencies)} requests"
    # nginx cut every slow connection at its header timeout, long before the clients' bound.
    assert len(slow_held) >= SLOW_CLIENTS, slow_held
    assert max(slow_held) < 5 + 3, slow_held
    print(
        f"slow clients: {len(latencies)} normal requests, p99 {p99:.3f} s, slowest "
        f"{latencies[-1]:.3f} s; {len(slow_held)} slow connections cut after at most "
        f"{max(slow_held):.2f} s"
    )


def test_a_body_shorter_than_its_content_length_never_reaches_an_instance(cluster):
    with socket.create_connection(("127.0.0.1", cluster.http_port), timeout=20) as sock:
        opened = time.monotonic()
        sock.sendall(
            b"POST /api/events/1/register/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name": '
        )
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        held = time.monotonic() - opened

    # nginx gave up on the body after its 5 s timeout, without an answer; no instance saw it.
    assert held < 5 + 3, held
    assert not answer.startswith(b"HTTP/1.1 2"), answer
    log = (cluster.run_dir / "nginx-access.log").read_text().splitlines()
    cut = [line for line in log if '"POST /api/events/1/register/' in line]
    assert cut, log[-5:]
    assert '" 408 ' in cut[-1], cut[-1]
    assert "upstream=- " in cut[-1], cut[-1]


def test_a_body_over_64_kib_is_refused_by_nginx_in_json(cluster):
    status, headers, body = call(f"{cluster.url}/api/events/", "POST", {"name": "x" * 70_000})
    assert status == 413
    assert headers["Content-Type"] == "application/json"
    assert body["code"] == "request_too_large"


def test_nothing_listens_beyond_the_loopback_address(cluster):
    ports = {cluster.http_port, cluster.pgbouncer_port, *cluster.app_ports}
    listening: dict[int, set[str]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port = local.rsplit(":", 1)
            if state == "0A" and int(port, 16) in ports:  # 0A: LISTEN
                listening.setdefault(int(port, 16), set()).add(address)
    # 127.0.0.1 as /proc/net/tcp spells it (little-endian hex); no IPv6 or wildcard address.
    assert listening == {port: {"0100007F"} for port in ports}, listening


def test_an_instance_killed_mid_load_loses_no_registration_and_sells_no_seat_twice(
    cluster, organiser
):
    owner, auth = organiser
    event = EventFactory(owner=owner, max_capacity=150)
    clients, per_client = 24, 10
    final: dict[str, tuple[int, dict | None]] = {}
    retried = Counter()
    lock = threading.Lock()
    started = threading.Event()

    def client(index: int) -> None:
        for number in range(per_client):
            email = f"k{index}-{number}@example.com"
            key = uuid.uuid4().hex
            for _ in range(10):
                status, _, body = register(cluster.url, event.pk, email, key=key)
                if status in (201, 409):
                    break
                # No answer, or nginx's 502: did it happen? The same key makes the retry safe.
                with lock:
                    retried[status] += 1
                time.sleep(0.2)
            with lock:
                final[email] = (status, body, key)
            started.set()

    killer_done = threading.Event()

    def killer() -> None:
        started.wait(30)
        time.sleep(0.3)
        deploy.kill(cluster, "app2")
        killer_done.set()

    kill_thread = threading.Thread(target=killer)
    kill_thread.start()
    run_threads(clients, client)
    kill_thread.join(timeout=60)
    assert killer_done.is_set()
    assert deploy.status(cluster)["app2"] is False

    outcomes = Counter((status, (body or {}).get("code")) for status, body, _ in final.values())
    assert outcomes == {(201, None): 150, (409, "event_full"): clients * per_client - 150}, (
        outcomes,
        retried,
    )
    registered = {email for email, (status, _, _) in final.items() if status == 201}
    rows = set(Attendee.objects.filter(event=event).values_list("email", flat=True))
    assert rows == registered
    assert Event.objects.get(pk=event.pk).seats_taken == 150
    _, _, attendees = call(f"{cluster.url}/api/events/{event.pk}/attendees/", headers=auth)
    assert attendees["count"] == 150

    # A retry of any answered registration, with its key, repeats the answer and books nothing.
    for email in sorted(registered)[:20]:
        status, body, key = final[email]
        again_status, headers, again = register(cluster.url, event.pk, email, key=key)
        assert (again_status, again["id"]) == (201, body["id"])
        assert headers.get("Idempotent-Replayed") == "true"
    assert Attendee.objects.filter(event=event).count() == 150

    # The killed instance had its share before the kill; nginx moved on to the others.
    served = upstreams_in_access_log(cluster, f"/api/events/{event.pk}/register/")
    assert served[f"127.0.0.1:{cluster.app_ports[1]}"] > 0, served
    print(f"kill: {dict(outcomes)}; retried {dict(retried)}; served {dict(served)}")
    deploy.launch(cluster, deploy.processes(cluster)[1])
    deploy.wait_until_answering(cluster, cluster.app_url(1))
