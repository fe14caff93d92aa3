"""The shape of a registration: what a client sends to register, an attendee as the organiser
sees one, and a place as its holder sees it."""

from django.utils import timezone
from rest_framework import serializers

from api.fields import DateTimeField, VisibleCharField
from core.emails import EMAIL_MAX_LENGTH, normalize_email
from core.models import Attendee, AttendeeStatus
from core.tickets import issue_ticket


def ticket_of(attendee: Attendee) -> str | None:
    """The seat's signed ticket; None for a waiting place, which has none until promoted."""
    if attendee.status != AttendeeStatus.REGISTERED:
        return None
    return issue_ticket(event_id=attendee.event_id, registration_id=attendee.pk)


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
    ticket = serializers.CharField(
        allow_null=True,
        help_text=(
            "The seat's ticket, signed with the event's key: shown at the door as text or as "
            "its QR code (`GET /api/registrations/{token}/ticket.svg` or `.png`). Null while "
            "waiting: a waiting place has no ticket until it becomes a seat."
        ),
    )

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
            "ticket": ticket_of(attendee),
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
