"""The retention pass runs in the email worker: first thing, then every period."""

import threading
import time

import pytest
from django.core.management import call_command

from core.management.commands import send_emails
from core.outbox import run_worker
from core.services import erase_expired_registrations

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_worker_runs_the_pass_at_once_and_then_each_period():
    stop = threading.Event()
    calls: list[float] = []

    def periodic():
        calls.append(time.monotonic())
        if len(calls) == 2:
            stop.set()

    started = time.monotonic()
    run_worker(stop=stop, poll_seconds=0.01, periodic=periodic, period_seconds=0.2)

    assert len(calls) == 2
    assert calls[0] - started < 0.1
    assert calls[1] - calls[0] >= 0.2


def test_send_emails_runs_the_retention_pass(monkeypatch, settings):
    seen = {}
    monkeypatch.setattr(send_emails, "run_worker", lambda **kwargs: seen.update(kwargs))
    # The test process keeps its own signal handlers.
    monkeypatch.setattr(send_emails.signal, "signal", lambda *args: None)
    call_command("send_emails")
    assert seen["periodic"] is erase_expired_registrations
    assert seen["period_seconds"] == settings.RETENTION_PASS_SECONDS
