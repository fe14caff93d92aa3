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

from api.tokens import issue_device_token  # noqa: E402
from core.models import Attendee, Event  # noqa: E402
from core.services import create_device  # noqa: E402
from core.tickets import issue_ticket  # noqa: E402

BATCH = 5000
DOOR_SEATS = 10_000


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
    seed_door(now, tickets_file=os.environ.get("BENCH_TICKETS_FILE"))
    # As an operator would after a bulk load: fresh statistics for the planner.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def seed_door(now, *, tickets_file: str | None) -> None:
    """A 10,000-seat event, every seat taken, a door device for it and, in `tickets_file`, every
    seat's ticket, one a line: what the checkin load scans at random."""
    event = Event.objects.create(
        name="door",
        location="Arena",
        start_time=now + timedelta(hours=1),
        end_time=now + timedelta(hours=6),
        max_capacity=DOOR_SEATS,
    )
    seats = Attendee.objects.bulk_create(
        (
            Attendee(event=event, name=f"Guest {i}", email=f"door{i}@example.com")
            for i in range(DOOR_SEATS)
        ),
        batch_size=5000,
    )
    if tickets_file:
        Path(tickets_file).write_text(
            "".join(
                issue_ticket(event_id=event.pk, registration_id=seat.pk) + "\n" for seat in seats
            )
        )
    token, digest = issue_device_token()
    create_device(event_id=event.pk, name="Bench gate", token_hash=digest)
    print(f"door={event.pk}")
    print(f"door_token={token}")


if __name__ == "__main__":
    main()
