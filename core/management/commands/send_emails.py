"""`python manage.py send_emails`: the worker, sending the outbox's emails as they fall due
(core/outbox.py), on a thread of its own the webhooks (core/webhooks.py), and erasing expired
personal data hourly (core.services.erase_expired_registrations)."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from core.outbox import run_worker, send_due_messages
from core.services import erase_expired_registrations
from core.webhooks import deliver_due_webhooks, run_webhook_worker


class Command(BaseCommand):
    help = (
        "Send the queued emails and webhooks as they fall due, until stopped (SIGTERM or SIGINT "
        "end it after the message being sent); with --once, send what is due now and exit."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Send what is due now, then exit.")
        parser.add_argument(
            "--poll",
            type=float,
            default=settings.EMAIL_WORKER_POLL_SECONDS,
            help="Seconds between looks at an empty queue (default: %(default)s).",
        )

    def handle(self, *args, once, poll, **options):
        if once:
            sent = 0
            while claimed := send_due_messages():
                sent += claimed
            webhooks = 0
            while handled := deliver_due_webhooks():
                webhooks += handled
            self.stdout.write(f"Handled {sent} due message{'' if sent == 1 else 's'}.")
            self.stdout.write(f"Handled {webhooks} webhook fan-outs and deliveries.")
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        # A slow endpoint (up to 10 s a request) must not hold up the emails, nor they it.
        webhooks = threading.Thread(
            target=run_webhook_worker,
            kwargs={"stop": stop, "poll_seconds": poll},
            name="webhooks",
        )
        webhooks.start()
        try:
            # The retention pass (DJANGO_RETENTION_DAYS) runs beside the emails, hourly.
            run_worker(
                stop=stop,
                poll_seconds=poll,
                periodic=erase_expired_registrations,
                period_seconds=settings.RETENTION_PASS_SECONDS,
            )
        finally:
            stop.set()
            webhooks.join()
