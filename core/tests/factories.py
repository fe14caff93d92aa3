"""factory-boy factories for events and attendees."""

from datetime import timedelta

import factory
from django.utils import timezone

from core.models import Attendee, Event


class EventFactory(factory.django.DjangoModelFactory):
    """An upcoming event, a month out, three hours long."""

    class Meta:
        model = Event

    name = factory.Sequence(lambda n: f"Event {n}")
    location = factory.Sequence(lambda n: f"Hall {n}")
    start_time = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    end_time = factory.LazyAttribute(lambda event: event.start_time + timedelta(hours=3))
    max_capacity = 100


class AttendeeFactory(factory.django.DjangoModelFactory):
    """A registration written directly (the database's trigger takes the seat)."""

    class Meta:
        model = Attendee

    event = factory.SubFactory(EventFactory)
    name = factory.Sequence(lambda n: f"Guest {n}")
    email = factory.Sequence(lambda n: f"guest{n}@example.com")
