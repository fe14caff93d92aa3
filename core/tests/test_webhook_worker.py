"""The webhook worker as a process (`manage.py send_emails`), killed with SIGKILL again and again
while it delivers: every committed happening reaches the receiver, verified with
`standardwebhooks`, at least once, repeats carrying the same `webhook-id`, and in order."""

import os
import signal
import tempfile
import time

import pytest
from django.utils import timezone

from core.models import (
    Attendee,
    MessageKind,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEventType,
    WebhookMessage,
)
from core.outbox import queue_messages
from core.services import create_webhook_endpoint
from testing.servers import start_worker
from testing.webhooks import webhook_receiver

pytestmark = pytest.mark.django_db(transaction=True)

BACKLOG = 300
KILLS = 5
WAIT_SECONDS = 120
WORKER_ENV = {
    "DJANGO_WEBHOOKS_ALLOW_HTTP": "true",
    "DJANGO_WEBHOOKS_ALLOW_PRIVATE": "true",
    # A claim of a killed worker comes back after a second.
    "DJANGO_WEBHOOK_LEASE_SECONDS": "1",
    "DJANGO_EMAIL_LEASE_SECONDS": "1",
    "DJANGO_EMAIL_MAX_PER_MAILBOX_PER_HOUR": "0",
}


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"Timed out waiting until {what}"
        time.sleep(0.05)


def delivered() -> int:
    return WebhookDelivery.objects.filter(status=WebhookDeliveryStatus.DELIVERED).count()


def claimed() -> int:
    return WebhookDelivery.objects.filter(
        status=WebhookDeliveryStatus.PENDING, available_at__gt=timezone.now()
    ).count()


def test_every_webhook_arrives_in_order_although_the_worker_is_killed_again_and_again(
    event_factory, organiser_factory
):
    owner = organiser_factory()
    event = event_factory(owner=owner, max_capacity=BACKLOG)
    with webhook_receiver(delay=0.01) as receiver:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("django.conf.settings.WEBHOOKS_ALLOW_HTTP", True)
            patch.setattr("django.conf.settings.WEBHOOKS_ALLOW_PRIVATE", True)
            endpoint = create_webhook_endpoint(
                owner=owner, url=receiver.url, event_types=["registration.created"]
            )
        receiver.secrets = [endpoint.secret]
        # The backlog as registrations leave it: one email outbox row each, committed.
        attendees = Attendee.objects.bulk_create(
            Attendee(event=event, name=f"Guest {i}", email=f"guest{i}@example.com")
            for i in range(BACKLOG)
        )
        queue_messages(kind=MessageKind.REGISTERED, event_id=event.pk, attendees=attendees)

        log = tempfile.TemporaryFile()
        killed_holding = []
        process = None
        try:
            for _ in range(KILLS):
                process = start_worker(log=log, env=WORKER_ENV)
                floor = delivered()
                wait_until(
                    lambda floor=floor: delivered() >= floor + 10 and claimed() > 0,
                    "the worker delivered some",
                )
                killed_holding.append(claimed())
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            process = start_worker(log=log, env=WORKER_ENV)
            wait_until(lambda: delivered() == BACKLOG, "every delivery was recorded delivered")
        finally:
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
            log.seek(0)
            worker_log = log.read().decode()
            log.close()

        requests = list(receiver.requests)

    messages = list(
        WebhookMessage.objects.filter(type=WebhookEventType.REGISTRATION_CREATED)
        .order_by("id")
        .values_list("uid", "data")
    )
    print(f"deliveries claimed by each killed worker, just before: {killed_holding}")
    print(f"delivered more than once: {len(requests) - len({r.webhook_id for r in requests})}")
    assert "Traceback" not in worker_log
    assert receiver.unverified == []
    # One message per registration, each delivered at least once, in the order published.
    assert sorted(data["email"] for _, data in messages) == sorted(a.email for a in attendees)
    assert receiver.accepted_ids() == [uid for uid, _ in messages]
    # A repeat is the same message: the same id, the same body.
    bodies = {}
    for request in requests:
        assert bodies.setdefault(request.webhook_id, request.body) == request.body
