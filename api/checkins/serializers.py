"""The shape of check-in: a door device, a scan (online, or a batch uploaded from offline), an
admission, a conflict, a withdrawn ticket, the event's key and its arrivals."""

from rest_framework import serializers
from rest_framework.fields import empty

from api.fields import AwareDateTimeField, DateTimeField, VisibleCharField
from core.checkin import MAX_BATCH_SCANS, CheckInOutcome
from core.tickets import TICKET_LENGTH

NONCE_HELP = (
    "A fresh random string from the scanner for each scan (a UUID will do). Sent again, by the "
    "same device or person, it gets the first answer again instead of a second admission."
)
# Longer than any ticket, so a wrong one is judged as a ticket (400 `invalid_ticket`), not as
# text too long, while a body cannot make the server verify a megabyte.
TICKET_MAX_LENGTH = 4 * TICKET_LENGTH


class NewDeviceSerializer(serializers.Serializer):
    """A door device to create: its name, as the organiser will see it."""

    name = VisibleCharField(max_length=100, help_text='Where it scans, e.g. "Gate A".')


class DeviceSerializer(serializers.Serializer):
    """A door device; its token is never shown again."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    created_at = DateTimeField()
    revoked_at = DateTimeField(allow_null=True)


class IssuedDeviceSerializer(serializers.Serializer):
    """A door device just created, with its bearer token, shown this once."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    token = serializers.CharField(
        help_text=(
            "Shown once: only its hash is kept. The device sends it as `Authorization: Bearer "
            "…`; it checks in at this event only and works until revoked or 12 hours after the "
            "event ends."
        )
    )


class ScanSerializer(serializers.Serializer):
    """A ticket scanned at the door, online."""

    ticket = serializers.CharField(max_length=TICKET_MAX_LENGTH, trim_whitespace=True)
    nonce = VisibleCharField(max_length=100, help_text=NONCE_HELP)


class DeviceRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AdmissionSerializer(serializers.Serializer):
    """A check-in: who was admitted, when, and at which device (null: by a person signed in)."""

    id = serializers.IntegerField(help_text="The check-in's id, for undoing it.")
    registration = serializers.IntegerField(help_text="The registration's id.")
    name = serializers.CharField()
    checked_in_at = DateTimeField()
    device = DeviceRefSerializer(allow_null=True)


class OfflineScanSerializer(ScanSerializer):
    """A ticket a device scanned offline, and when."""

    scanned_at = AwareDateTimeField(help_text="When the device scanned it, with a UTC offset.")


class BatchSerializer(serializers.Serializer):
    """Scans a device made offline, uploaded together. Errors come as every error body's do, one
    list of messages per field: a scan's own say which scan (`[3].scanned_at: …`)."""

    scans = OfflineScanSerializer(many=True, allow_empty=False, max_length=MAX_BATCH_SCANS)

    def run_validation(self, data=empty):
        try:
            return super().run_validation(data)
        except serializers.ValidationError as error:
            raise serializers.ValidationError(_flat(error.detail)) from None


def _flat(detail, path: str = "") -> dict[str, list[str]]:
    """Nested errors (a list's, keyed by index; a nested object's) as {field: [messages]}, the
    nested ones under their top field, each message prefixed with where it is."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            inner = (
                f"{path}[{key}]"
                if isinstance(key, int) or str(key).isdigit()
                else (f"{path}.{key}" if path else str(key))
            )
            for field, messages in _flat(value, inner).items():
                flat.setdefault(field, []).extend(messages)
        return flat
    if isinstance(detail, list) and not all(isinstance(item, str) for item in detail):
        flat = {}
        for index, value in enumerate(detail):
            if value:
                for field, messages in _flat(value, f"{path}[{index}]").items():
                    flat.setdefault(field, []).extend(messages)
        return flat
    top, _, rest = path.partition("[")
    top = top.split(".")[0] if top else "non_field_errors"
    where = path[len(top) :]
    where = where.replace(".non_field_errors", "")
    messages = detail if isinstance(detail, list) else [detail]
    return {top: [f"{where}: {message}" if where else str(message) for message in messages]}


class ScanResultSerializer(serializers.Serializer):
    nonce = serializers.CharField()
    outcome = serializers.ChoiceField(choices=[outcome.value for outcome in CheckInOutcome])


class BatchResultSerializer(serializers.Serializer):
    """Each scan's outcome, in the order sent."""

    results = ScanResultSerializer(many=True)


class AdmissionAtSerializer(serializers.Serializer):
    device = DeviceRefSerializer(allow_null=True)
    at = DateTimeField()


class ConflictSerializer(serializers.Serializer):
    """One ticket admitted twice: `first` stands as its check-in, `again` was let in too."""

    id = serializers.IntegerField()
    registration = serializers.IntegerField()
    ticket = serializers.CharField()
    name = serializers.CharField()
    first = AdmissionAtSerializer()
    again = AdmissionAtSerializer()
    recorded_at = DateTimeField()


class RevokedTicketSerializer(serializers.Serializer):
    registration = serializers.IntegerField()
    ticket = serializers.CharField()
    reason = serializers.CharField(help_text="`cancelled`, `removed` or `event_cancelled`.")
    revoked_at = DateTimeField()


class RevokedListSerializer(serializers.Serializer):
    """The withdrawn tickets, and what to ask with next time."""

    revoked = RevokedTicketSerializer(many=True)
    next_since = DateTimeField(
        help_text=(
            "Send as `since` next time: a little before this answer, so a withdrawal being "
            "committed as it was read is not missed (a ticket may then be listed twice)."
        )
    )


class PublicKeySerializer(serializers.Serializer):
    """The event's ticket-verifying key."""

    event = serializers.IntegerField()
    algorithm = serializers.CharField(help_text="`Ed25519`.")
    public_key = serializers.CharField(help_text="The raw 32-byte key, URL-safe Base64.")
    public_key_pem = serializers.CharField(help_text="The same key as PEM (SubjectPublicKeyInfo).")
    ticket_format = serializers.CharField()


class BucketSerializer(serializers.Serializer):
    start = DateTimeField()
    count = serializers.IntegerField()


class StatsSerializer(serializers.Serializer):
    """How the door is going."""

    checked_in_count = serializers.IntegerField()
    seats_taken = serializers.IntegerField()
    not_yet_arrived = serializers.IntegerField(
        help_text="Seats whose holders are not checked in: the no-shows, once the event is over."
    )
    conflicts = serializers.IntegerField()
    bucket = serializers.CharField()
    arrivals = BucketSerializer(many=True)
