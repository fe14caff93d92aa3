"""The shape of a registration: what a client sends to register, an attendee as the organiser
sees one, and a place as its holder sees it."""

from django.utils import timezone
from rest_framework import serializers

from api.fields import DateTimeField, VisibleCharField
from api.questions.serializers import AnswersField, check_answers
from core.emails import EMAIL_MAX_LENGTH, normalize_email
from core.models import Attendee, AttendeeStatus, Question
from core.tickets import issue_ticket

ANSWERS_HELP = (
    "The answers to the event's questions (`GET /api/events/{id}/questions/`), by question id: "
    "text for `text`, one of the choices for `choice`, a list of them for `multiple_choice`, "
    "true or false for `boolean`."
)


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
    answers = AnswersField(
        required=False,
        help_text=ANSWERS_HELP
        + " Required when the event asks a required question; each problem is answered 400 "
        "under `errors.answers.<question id>`.",
    )

    def validate_email(self, value: str) -> str:
        # The stored spelling, so a domain with no ASCII form is refused here, on its field.
        # The field has run Django's address check on this value already; the service takes
        # the result as normalised, without a third check.
        return normalize_email(value, syntax_checked=True)

    def validate_answers(self, value: dict) -> dict:
        # Against the event's questions as they are now: one read, made only when answers came.
        questions = list(Question.objects.filter(event_id=self.context["event_id"]))
        return check_answers(questions, value)


class ErasureSerializer(serializers.Serializer):
    """The query of a cancellation: whether to erase the personal data too."""

    erase = serializers.BooleanField(
        required=False,
        default=False,
        help_text=(
            "`true`: cancel and erase at once (name, email and answers, and the emails' copies "
            "of them, replaced by a tombstone)."
        ),
    )


class AttendeeSerializer(serializers.ModelSerializer):
    """A registration as the API shows it to the event's owner."""

    registered_at = DateTimeField(read_only=True)
    answers = AnswersField(read_only=True, help_text=ANSWERS_HELP)

    class Meta:
        model = Attendee
        fields = ["id", "name", "email", "registered_at", "answers"]

    def to_representation(self, attendee):
        # By hand for the same reason as EventSerializer.to_representation.
        return {
            "id": attendee.id,
            "name": attendee.name,
            "email": attendee.email,
            "registered_at": timezone.localtime(attendee.registered_at),
            "answers": attendee.answers,
        }


class PlaceSerializer(serializers.Serializer):
    """A registration as its holder sees it: a seat, or a place on the waiting list."""

    id = serializers.IntegerField()
    event = serializers.IntegerField(help_text="The event's id.")
    name = serializers.CharField()
    email = serializers.EmailField()
    status = serializers.ChoiceField(
        choices=AttendeeStatus.choices,
        help_text=(
            "`registered`: a seat is held. `waitlisted`: waiting for one. `pending`: waiting "
            "for the organiser's approval, holding neither."
        ),
    )
    position = serializers.IntegerField(
        allow_null=True,
        min_value=1,
        help_text=(
            "The place on the waiting list, 1 for the next to get a seat; null holding a seat."
        ),
    )
    registered_at = DateTimeField()
    answers = AnswersField(help_text=ANSWERS_HELP)
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
            "answers": attendee.answers,
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


class DataEventSerializer(serializers.Serializer):
    """The event a registration is for, as its data export shows it."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    location = serializers.CharField()
    start_time = DateTimeField()
    end_time = DateTimeField()


class DataAnswerSerializer(serializers.Serializer):
    """One answer as given, with its question's label now (null: the question was removed)."""

    question = serializers.CharField(help_text="The question's id.")
    label = serializers.CharField(allow_null=True)
    answer = serializers.JSONField()


class DataStepSerializer(serializers.Serializer):
    """A status the registration took, and when."""

    status = serializers.ChoiceField(choices=AttendeeStatus.choices)
    at = DateTimeField()


class DataEmailSerializer(serializers.Serializer):
    """An email about the registration: what it told, whether and when it was sent."""

    kind = serializers.CharField()
    status = serializers.CharField(help_text="`queued`, `sent`, `failed` or `skipped`.")
    queued_at = DateTimeField()
    sent_at = DateTimeField(allow_null=True)


class RegistrationDataSerializer(serializers.Serializer):
    """Everything stored about a registration, for its holder to take away."""

    registration = PlaceSerializer()
    event = DataEventSerializer()
    answers = DataAnswerSerializer(many=True)
    status_history = DataStepSerializer(many=True)
    emails = DataEmailSerializer(many=True)

    def to_representation(self, data):
        attendee = data.place.attendee
        event = attendee.event
        return {
            "registration": PlaceSerializer(data.place).data,
            "event": {
                "id": event.id,
                "name": event.name,
                "location": event.location,
                "start_time": timezone.localtime(event.start_time),
                "end_time": timezone.localtime(event.end_time),
            },
            "answers": [
                {"question": key, "label": data.questions.get(key), "answer": value}
                for key, value in attendee.answers.items()
            ],
            "status_history": [
                {"status": status, "at": timezone.localtime(at)} for status, at in data.history
            ],
            "emails": [
                {
                    "kind": message.kind,
                    "status": message.status,
                    "queued_at": timezone.localtime(message.created_at),
                    "sent_at": message.sent_at and timezone.localtime(message.sent_at),
                }
                for message in data.messages
            ],
        }
