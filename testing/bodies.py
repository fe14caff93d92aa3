"""Request bodies the API tests send more than once."""

from datetime import timedelta

from django.utils import timezone


def new_event(number: int = 0) -> dict:
    """A valid `POST /api/events/` body, a distinct one for each `number`."""
    start = timezone.now() + timedelta(days=30 + number)
    return {
        "name": f"Launch Party {number}",
        "location": "Dock 5, Hamburg",
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(hours=3)).isoformat(),
        "max_capacity": 10,
    }
