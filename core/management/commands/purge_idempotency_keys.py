"""`python manage.py purge_idempotency_keys`: delete expired idempotency keys and their answers."""

from django.core.management.base import BaseCommand

from core.services import purge_idempotency_keys


class Command(BaseCommand):
    help = (
        "Delete the idempotency keys whose time (DJANGO_IDEMPOTENCY_TTL_HOURS) is up, with the "
        "answers they kept for retries. Safe to run at any time, from cron for instance."
    )

    def handle(self, *args, **options):
        deleted = purge_idempotency_keys()
        noun = "key" if deleted == 1 else "keys"
        self.stdout.write(f"Removed {deleted} expired idempotency {noun}.")
