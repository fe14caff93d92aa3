"""The retention pass runs in the email worker: first thing, then every period."""

import threading
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from core.management.commands import send_emails
from core.models import ERASED_NAME, Attendee, ErasureRecord
from core.outbox import run_worker
from core.services import erase_expired_registrations
from testing.servers import worker

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


def test_a_running_worker_erases_the_attendees_of_an_event_over_for_the_retention_period(
    event_factory, attendee_factory
):
    now = timezone.now()
    over = event_factory(start_time=now - timedelta(days=92), end_time=now - timedelta(days=91))
    recent = event_factory(start_time=now - timedelta(days=2), end_time=now - timedelta(days=1))
    attendee_factory(event=over, name="Ada Old", email="ada.old@example.com")
    attendee_factory(event=recent, name="Bob Recent", email="bob.recent@example.com")

    with worker(env={"DJANGO_RETENTION_DAYS": "90"}):
        deadline = time.monotonic() + 60
        while not ErasureRecord.objects.exists():
            assert time.monotonic() < deadline, "the worker erased nothing"
            time.sleep(0.1)

    record = ErasureRecord.objects.get()
    assert (record.event_id, record.count, record.reason) == (over.pk, 1, "retention")
    assert Attendee.objects.get(event=over).name == ERASED_NAME
    assert Attendee.objects.get(event=recent).name == "Bob Recent"
