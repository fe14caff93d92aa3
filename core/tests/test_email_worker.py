"""The email worker as a process: killed with SIGKILL while it sends, and cut from its database
by a restart of PostgreSQL. Every committed message is delivered and recorded sent."""

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.db import connection
from django.utils import timezone

from core.models import Attendee, MessageKind, MessageStatus, OutgoingMessage
from core.outbox import queue_messages
from event_management_system.tests.tcp_proxy import FreezableProxy
from testing.servers import database_url, free_port, start_worker, worker

pytestmark = pytest.mark.django_db(transaction=True)

BACKLOG = 600
KILLS = 5
WAIT_SECONDS = 120


class Recipients:
    """An aiosmtpd handler that counts the envelope recipients of what it accepts, a little
    slowly, as a real server does, so that a kill lands mid-send."""

    def __init__(self):
        self.count: Counter[str] = Counter()

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.002)
        self.count.update(envelope.rcpt_tos)
        return "250 Message accepted for delivery"


@pytest.fixture
def mail_server():
    recipients = Recipients()
    port = free_port()
    smtp = Controller(recipients, hostname="127.0.0.1", port=port)
    smtp.start()
    env = {
        "DJANGO_EMAIL_HOST": "127.0.0.1",
        "DJANGO_EMAIL_PORT": str(port),
        # A claim of a killed worker comes back after a second.
        "DJANGO_EMAIL_LEASE_SECONDS": "1",
    }
    yield recipients, env
    smtp.stop()


def queue_backlog(event, count: int) -> list[str]:
    attendees = Attendee.objects.bulk_create(
        Attendee(event=event, name=f"Guest {i}", email=f"guest{i}@example.com")
        for i in range(count)
    )
    queue_messages(kind=MessageKind.REGISTERED, event_id=event.pk, attendees=attendees)
    return [attendee.email for attendee in attendees]


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"Timed out waiting until {what}"
        time.sleep(0.05)


def sent() -> int:
    return OutgoingMessage.objects.filter(status=MessageStatus.SENT).count()


def claimed() -> int:
    """Messages a worker holds: queued, and not due again before their lease runs out."""
    return OutgoingMessage.objects.filter(
        status=MessageStatus.QUEUED, available_at__gt=timezone.now()
    ).count()


def test_every_message_is_delivered_although_the_worker_is_killed_again_and_again(
    event_factory, mail_server
):
    recipients, env = mail_server
    addresses = queue_backlog(event_factory(max_capacity=BACKLOG), BACKLOG)
    log = tempfile.TemporaryFile()
    killed_holding = []
    try:
        for _ in range(KILLS):
            process = start_worker(log=log, env=env)
            # Mid-work: some of the backlog sent since the last kill, and messages claimed.
            floor = sent()
            wait_until(
                lambda floor=floor: sent() >= floor + 20 and claimed() > 0, "the worker sent some"
            )
            held = claimed()
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            killed_holding.append(held)
        # A last worker, left to finish.
        process = start_worker(log=log, env=env)
        wait_until(lambda: sent() == BACKLOG, "every message was recorded sent")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        log.close()

    print(f"claimed messages held by each killed worker, just before: {killed_holding}")
    print(f"delivered twice (sent, then killed before recording it): "
          f"{sum(n - 1 for n in recipients.count.values())}")  # fmt: skip
    assert set(recipients.count) == set(addresses)  # every one delivered, at least once
    assert not OutgoingMessage.objects.exclude(status=MessageStatus.SENT).exists()


def postgresql_cluster() -> list[str]:
    clusters = sorted(Path("/etc/postgresql").iterdir())
    assert shutil.which("pg_ctlcluster"), "pg_ctlcluster is needed to restart the server"
    assert clusters, "no PostgreSQL cluster in /etc/postgresql"
    return ["pg_ctlcluster", "--skip-systemctl-redirect", clusters[0].name, "main"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="restarts the PostgreSQL server")
# fast: the server closes its connections; immediate: it dies at once, as in a crash, and
# recovers from its log when it starts.
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_the_worker_outlives_a_restart_of_postgresql(event_factory, mail_server, mode):
    recipients, env = mail_server
    event = event_factory(max_capacity=10)
    (before,) = queue_backlog(event, 1)
    with worker(env=env) as process:
        wait_until(lambda: recipients.count[before], "the first message arrived")
        subprocess.run([*postgresql_cluster(), "restart", "-m", mode], check=True)
        connection.close()  # this test's own connection went with the server
        attendee = Attendee.objects.create(event=event, name="After", email="after@example.com")
        queue_messages(kind=MessageKind.REGISTERED, event_id=event.pk, attendees=[attendee])
        wait_until(lambda: recipients.count["after@example.com"], "the message after arrived")
        assert process.poll() is None, "the worker exited"
    assert not OutgoingMessage.objects.exclude(status=MessageStatus.SENT).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's timeouts and sockets")
def test_the_worker_outlives_a_server_frozen_past_its_timeouts(event_factory, mail_server):
    """Between the worker and the server, a proxy stops forwarding for longer than the
    statement and connect timeouts (as a SIGSTOPped server, or a cut network): the watchdog
    cuts the worker's statement, its reconnections time out, and it carries on after."""
    recipients, env = mail_server
    event = event_factory(max_capacity=10)
    (before,) = queue_backlog(event, 1)
    settings = connection.settings_dict
    upstream = (settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432))
    with FreezableProxy(upstream) as proxy:
        env = {
            **env,
            "DATABASE_URL": database_url(host="127.0.0.1", port=proxy.port),
            "DJANGO_DB_CONNECT_TIMEOUT": "2",
            "DJANGO_DB_STATEMENT_TIMEOUT": "1",
        }
        with worker(env=env) as process:
            wait_until(lambda: recipients.count[before], "the first message arrived")
            proxy.freeze(seconds=20)
            # Queued while the worker cannot reach the server (this test's connection does).
            attendee = Attendee.objects.create(
                event=event, name="During", email="during@example.com"
            )
            queue_messages(kind=MessageKind.REGISTERED, event_id=event.pk, attendees=[attendee])
            time.sleep(8)  # past the timeouts: the worker's statements and connections fail
            assert process.poll() is None, "the worker exited"
            assert not recipients.count["during@example.com"]
            proxy.thaw()
            wait_until(lambda: recipients.count["during@example.com"], "the message arrived")
            assert process.poll() is None, "the worker exited"
    assert not OutgoingMessage.objects.exclude(status=MessageStatus.SENT).exists()
