"""Seed a bench database: BENCH_EVENTS upcoming events (default 2,000) and 200 past ones,
plus the events the load hits.

Prints the ids of the named events, and the id range of the upcoming ones, as `name=id` lines
for bench/run.
"""

import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "event_management_system.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from core.models import Attendee, Event  # noqa: E402

BATCH = 5000


def main() -> None:
    now = timezone.now()
    upcoming = int(os.environ.get("BENCH_EVENTS", "2000"))
    ids = []
    for start in range(0, upcoming, BATCH):
        created = Event.objects.bulk_create(
            Event(
                name=f"Event {i}",
                location=f"Hall {i % 50}",
                start_time=now + timedelta(days=1 + i % 700, minutes=i),
                end_time=now + timedelta(days=1 + i % 700, minutes=i, hours=3),
                max_capacity=1000,
            )
            for i in range(start, min(upcoming, start + BATCH))
        )
        ids += [created[0].pk, created[-1].pk]
    print(f"spread_low={min(ids)}")
    print(f"spread_high={max(ids)}")
    Event.objects.bulk_create(
        Event(
            name=f"Past {i}",
            location="Old Hall",
            start_time=now - timedelta(days=1 + i),
            end_time=now - timedelta(days=1 + i) + timedelta(hours=2),
            max_capacity=10,
        )
        for i in range(200)
    )
    named = {
        "big": (500, 10_000),  # attendees already registered, capacity
        "hot": (0, 1_000_000),
        "hot50k": (50_000, 1_000_000),
        "over": (0, 200),
    }
    for days, (name, (registered, capacity)) in enumerate(named.items(), start=5):
        event = Event.objects.create(
            name=name,
            location="Arena",
            start_time=now + timedelta(days=days),
            end_time=now + timedelta(days=days, hours=4),
            max_capacity=capacity,
        )
        Attendee.objects.bulk_create(
            (
                Attendee(event=event, name=f"Guest {i}", email=f"guest{i}@example.com")
                for i in range(registered)
            ),
            batch_size=5000,
        )
        print(f"{name}={event.pk}")
    # As an operator would after a bulk load: fresh statistics for the planner.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


if __name__ == "__main__":
    main()
