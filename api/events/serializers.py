"""The shape of an event in and out, and its field-level validation."""

from django.db import models
from django.utils import timezone
from rest_framework import serializers

from api.fields import AwareDateTimeField, VisibleCharField
from core.models import END_BEFORE_START_MESSAGE, Event, EventStatus

START_IN_PAST_MESSAGE = "The start time must be in the future."


class EventSerializer(serializers.ModelSerializer):
    """An event with its status and live seat figures."""

    # The event's text fields (name, location) take their lengths from the model.
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: VisibleCharField,
    }

    start_time = AwareDateTimeField()
    end_time = AwareDateTimeField()
    status = serializers.ChoiceField(
        choices=EventStatus.choices,
        read_only=True,
        help_text="`cancelled` once its organiser cancels it (`POST /api/events/{id}/cancel/`).",
    )
    attendee_count = serializers.IntegerField(source="seats_taken", read_only=True)
    seats_available = serializers.IntegerField(read_only=True)
    waitlist_count = serializers.IntegerField(
        source="waitlist_taken",
        read_only=True,
        help_text="How many wait for a seat on the event's waiting list.",
    )

    requires_approval = serializers.BooleanField(
        required=False,
        help_text=(
            "Registrations wait for the owner's approval (202 `pending`, holding no seat) "
            "before they get a seat or a waiting place."
        ),
    )

    class Meta:
        model = Event
        fields = [
            "id",
            "name",
            "location",
            "start_time",
            "end_time",
            "max_capacity",
            "requires_approval",
            "status",
            "attendee_count",
            "seats_available",
            "waitlist_count",
        ]

    def to_representation(self, event):
        # Written out by hand rather than field by field: this runs for every row of every
        # page, and the test suite checks it against the fields declared above.
        return {
            "id": event.id,
            "name": event.name,
            "location": event.location,
            "start_time": timezone.localtime(event.start_time),
            "end_time": timezone.localtime(event.end_time),
            "max_capacity": event.max_capacity,
            "requires_approval": event.requires_approval,
            "status": event.status,
            "attendee_count": event.seats_taken,
            "seats_available": event.max_capacity - event.seats_taken,
            "waitlist_count": event.waitlist_taken,
        }

    def validate_start_time(self, value):
        # An event's own start sent back unchanged (in a PATCH) is no new start.
        unchanged = self.instance is not None and value == self.instance.start_time
        if value <= timezone.now() and not unchanged:
            raise serializers.ValidationError(START_IN_PAST_MESSAGE)
        return value

    def validate(self, attrs):
        # A PATCH may send one of the two times: the other is the event's.
        start = attrs.get("start_time", getattr(self.instance, "start_time", None))
        end = attrs.get("end_time", getattr(self.instance, "end_time", None))
        if end <= start:
            raise serializers.ValidationError({"end_time": [END_BEFORE_START_MESSAGE]})
        return attrs
