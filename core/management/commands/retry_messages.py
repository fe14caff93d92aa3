"""`python manage.py retry_messages`: queue the failed outgoing emails again."""

from django.core.management.base import BaseCommand

from core.services import retry_messages


class Command(BaseCommand):
    help = (
        "Queue again the outgoing emails that failed every attempt (all of them, or the ids "
        "given), each with a fresh count of attempts; the worker sends them."
    )

    def add_arguments(self, parser):
        parser.add_argument("ids", nargs="*", type=int, help="Only these messages.")

    def handle(self, *args, ids, **options):
        count = retry_messages(message_ids=ids or None)
        noun = "message" if count == 1 else "messages"
        self.stdout.write(f"Queued {count} failed {noun} again.")
