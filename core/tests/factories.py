"""factory-boy factories for events and attendees."""

from datetime import timedelta

import factory
from django.db.models import F
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
    """A registration written directly, keeping the event's seat counter in step."""

    class Meta:
        model = Attendee

    event = factory.SubFactory(EventFactory)
    name = factory.Sequence(lambda n: f"Guest {n}")
    email = factory.Sequence(lambda n: f"guest{n}@example.com")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        attendee = super()._create(model_class, *args, **kwargs)
        Event.objects.filter(pk=attendee.event_id).update(seats_taken=F("seats_taken") + 1)
        attendee.event.refresh_from_db(fields=["seats_taken"])
        return attendee
