"""The shape of the API's input and output, and field-level validation."""

from django.db import models
from django.utils import timezone
from rest_framework import serializers
from rest_framework.fields import empty

from api.datetimes import INVALID_DATETIME_MESSAGE, InvalidDateTime, parse_aware_datetime
from core.emails import EMAIL_MAX_LENGTH, normalize_email
from core.models import END_BEFORE_START_MESSAGE, Attendee, AttendeeStatus, Event, EventStatus
from core.text import BLANK_TEXT_MESSAGE, is_blank

START_IN_PAST_MESSAGE = "The start time must be in the future."


class DateTimeField(serializers.DateTimeField):
    """Output in the active time zone as an aware datetime; the JSON renderer formats it."""

    def to_representation(self, value):
        return timezone.localtime(value) if value is not None else None


class AwareDateTimeField(DateTimeField):
    """An ISO 8601 datetime read by api.datetimes.parse_aware_datetime; the instant is kept."""

    default_error_messages = {"invalid": INVALID_DATETIME_MESSAGE}

    def to_internal_value(self, value):
        if not isinstance(value, str):
            self.fail("invalid")
        try:
            return parse_aware_datetime(value)
        except InvalidDateTime as error:
            raise serializers.ValidationError(error.message, code=error.code) from None


class VisibleCharField(serializers.CharField):
    """Text that must show something: spaces and invisible characters alone are blank."""

    default_error_messages = {"blank": BLANK_TEXT_MESSAGE}

    def run_validation(self, data=empty):
        if isinstance(data, str) and not self.allow_blank and is_blank(data):
            self.fail("blank")
        return super().run_validation(data)


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

    class Meta:
        model = Event
        fields = [
            "id",
            "name",
            "location",
            "start_time",
            "end_time",
            "max_capacity",
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


class RegistrationSerializer(serializers.Serializer):
    """What a client sends to register: a name, an email address, and whether to wait."""

    name = VisibleCharField(max_length=200)
    email = serializers.EmailField(max_length=EMAIL_MAX_LENGTH)
    waitlist = serializers.BooleanField(
        default=False,
        help_text=(
            "When the event is full, take a place on its waiting list (202) instead of being "
            "refused (409 `event_full`)."
        ),
    )

    def validate_email(self, value: str) -> str:
        # The stored spelling, so a domain with no ASCII form is refused here, on its field.
        return normalize_email(value)


class AttendeeSerializer(serializers.ModelSerializer):
    """A registration as the API shows it."""

    registered_at = DateTimeField(read_only=True)

    class Meta:
        model = Attendee
        fields = ["id", "name", "email", "registered_at"]

    def to_representation(self, attendee):
        # By hand for the same reason as EventSerializer.to_representation.
        return {
            "id": attendee.id,
            "name": attendee.name,
            "email": attendee.email,
            "registered_at": timezone.localtime(attendee.registered_at),
        }


class PlaceSerializer(serializers.Serializer):
    """A registration as its holder sees it: a seat, or a place on the waiting list."""

    id = serializers.IntegerField()
    event = serializers.IntegerField(help_text="The event's id.")
    name = serializers.CharField()
    email = serializers.EmailField()
    status = serializers.ChoiceField(
        choices=AttendeeStatus.choices,
        help_text="`registered`: a seat is held. `waitlisted`: waiting for one.",
    )
    position = serializers.IntegerField(
        allow_null=True,
        min_value=1,
        help_text=(
            "The place on the waiting list, 1 for the next to get a seat; null holding a seat."
        ),
    )
    registered_at = DateTimeField()

    def to_representation(self, place):
        attendee = place.attendee
        return {
            "id": attendee.id,
            "event": attendee.event_id,
            "name": attendee.name,
            "email": attendee.email,
            "status": attendee.status,
            "position": place.position,
            "registered_at": timezone.localtime(attendee.registered_at),
        }


class NewPlaceSerializer(PlaceSerializer):
    """A registration just made, with the token that reads and cancels it, shown this once."""

    token = serializers.CharField(
        help_text=(
            "Shown once: only its hash is kept. `GET` or `DELETE /api/registrations/{token}/` "
            "reads or cancels the registration."
        )
    )

    def to_representation(self, registration):
        return {**super().to_representation(registration), "token": registration.token}


class CredentialsSerializer(serializers.Serializer):
    """A username and password, exchanged for a bearer token."""

    username = serializers.CharField(max_length=150)
    # As typed: spaces at either end are part of a password.
    password = serializers.CharField(
        max_length=1024, trim_whitespace=False, write_only=True, style={"input_type": "password"}
    )


class TokenSerializer(serializers.Serializer):
    """A new bearer token and when it stops working."""

    token = serializers.CharField(
        help_text="Send it as `Authorization: Bearer <token>`. Shown once: only its hash is kept."
    )
    expires_at = DateTimeField()
