"""factory-boy factories for users, events and attendees."""

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from core.models import Attendee, Event


class UserFactory(factory.django.DjangoModelFactory):
    """A user with no password and no permissions: the factory's callers add what they need."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password(None)


class OrganiserFactory(UserFactory):
    """A user in the `organisers` group, which may add events."""

    class Meta:
        skip_postgeneration_save = True

    @factory.post_generation
    def organisers_group(user, create, extracted, **kwargs):
        group, _ = Group.objects.get_or_create(name="organisers")
        group.permissions.add(
            Permission.objects.get(content_type__app_label="core", codename="add_event")
        )
        user.groups.add(group)


class StaffFactory(UserFactory):
    """A staff user: staff count as organisers, with no group or permission of their own."""

    is_staff = True


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
