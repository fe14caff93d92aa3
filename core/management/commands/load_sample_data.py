"""`python manage.py load_sample_data`: replace all events and attendees with the CSV sample."""

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.models import Event
from core.sample_data import SampleDataError, load_sample_data


class Command(BaseCommand):
    help = (
        "Delete every event and attendee, then load events.csv and attendees.csv "
        "in one transaction. A bad row stops the load and changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--events", type=Path, default=settings.BASE_DIR / "events.csv", help="events CSV"
        )
        parser.add_argument(
            "--attendees",
            type=Path,
            default=settings.BASE_DIR / "attendees.csv",
            help="attendees CSV",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="load only when the database holds no events yet",
        )

    def handle(self, *args, **options):
        if options["if_empty"] and Event.objects.exists():
            self.stdout.write("Events already exist; sample data not loaded.")
            return
        started = time.perf_counter()
        try:
            result = load_sample_data(
                events_path=options["events"], attendees_path=options["attendees"]
            )
        except SampleDataError as error:
            raise CommandError(f"{error} Nothing was changed.") from error
        seconds = time.perf_counter() - started
        rows = result.events + result.attendees
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {result.events} events and {result.attendees} attendees "
                f"in {seconds:.2f}s ({rows / seconds:,.0f} rows/s)."
            )
        )
