"""`python manage.py erase_expired`: erase now the personal data the retention period
(DJANGO_RETENTION_DAYS) has expired, as the worker's hourly pass does."""

from django.core.management.base import BaseCommand

from core.services import erase_expired_registrations


class Command(BaseCommand):
    help = (
        "Erase the names, emails and answers of the registrations of events that ended more "
        "than DJANGO_RETENTION_DAYS ago (and the emails' copies of them); prints what was "
        "erased, per event, without the data."
    )

    def handle(self, *args, **options):
        records = erase_expired_registrations()
        for record in records:
            self.stdout.write(f"Event {record.event_id}: {record.count} registration(s) erased.")
        self.stdout.write(f"Erased the registrations of {len(records)} event(s).")
