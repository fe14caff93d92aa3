"""The shape of a webhook endpoint in and out (its secret shown when made and when rotated), and
of its deliveries with every attempt."""

from django.utils import timezone
from rest_framework import serializers

from api.fields import DateTimeField
from core.models import WebhookDeliveryStatus, WebhookEndpoint, WebhookEventType

EVENTS_HELP = (
    "The happenings this endpoint is told about: "
    + ", ".join(f"`{value}`" for value in WebhookEventType.values)
    + ". At least one; an organiser's endpoint hears of their own events, staff's of every event."
)


class EventTypesField(serializers.ListField):
    """A list of webhook event types; an error names the field, never an item's index."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.ChoiceField(choices=WebhookEventType.choices), **kwargs)

    def run_child_validation(self, data):
        try:
            return super().run_child_validation(data)
        except serializers.ValidationError as error:
            details = error.detail.values() if isinstance(error.detail, dict) else [error.detail]
            messages = dict.fromkeys(str(message) for detail in details for message in detail)
            raise serializers.ValidationError(list(messages)) from None


class WebhookEndpointSerializer(serializers.ModelSerializer):
    """An endpoint as its owner sees it, without its secret."""

    url = serializers.URLField(
        max_length=2000,
        help_text=(
            "Where messages are POSTed: `https://` (plain `http://` only on a server that allows "
            "it), at a public address, without user name or password."
        ),
    )
    events = EventTypesField(
        source="event_types",
        allow_empty=False,
        max_length=len(WebhookEventType.values),
        help_text=EVENTS_HELP,
    )
    enabled = serializers.BooleanField(
        required=False,
        help_text=(
            "Off, the endpoint gets nothing; its pending deliveries wait, in order, until it is "
            "switched on again. A `410 Gone` answer, or failing for the whole retry window, "
            "switches it off."
        ),
    )
    disabled_reason = serializers.CharField(
        read_only=True, help_text="Why the server switched it off; empty otherwise."
    )
    owner = serializers.IntegerField(source="owner_id", read_only=True, help_text="Its owner's id.")
    previous_secret_expires_at = DateTimeField(
        read_only=True,
        allow_null=True,
        help_text=(
            "After a rotation, until when the previous secret still signs beside the new one "
            "(a second signature in `webhook-signature`); null otherwise."
        ),
    )
    created_at = DateTimeField(read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "events",
            "enabled",
            "disabled_reason",
            "owner",
            "previous_secret_expires_at",
            "created_at",
        ]

    def validate_events(self, value: list[str]) -> list[str]:
        # Each once, in the order given.
        return list(dict.fromkeys(value))


class NewSecretSerializer(WebhookEndpointSerializer):
    """An endpoint with its signing secret, shown when it is made and when it is rotated."""

    secret = serializers.CharField(
        read_only=True,
        help_text=(
            "The signing secret, `whsec_` and a Base64 key, as Standard Webhooks libraries take "
            "it. Shown in this answer and on rotation only: keep it."
        ),
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookAttemptSerializer(serializers.Serializer):
    """One try at a delivery."""

    attempted_at = DateTimeField()
    status_code = serializers.IntegerField(
        allow_null=True, help_text="The endpoint's HTTP status; null when none came."
    )
    duration_ms = serializers.IntegerField(help_text="How long the try took, in milliseconds.")
    response_body = serializers.CharField(help_text="The answer's first 2 KiB, as text.")
    error = serializers.CharField(
        help_text="Why no answer came (a timeout, a refused connection or address); else empty."
    )


class WebhookDeliverySerializer(serializers.Serializer):
    """One message to one endpoint, with every attempt so far."""

    id = serializers.IntegerField()
    webhook_id = serializers.CharField(
        help_text="The message's `webhook-id`, the same in every attempt and redelivery."
    )
    type = serializers.CharField(help_text="The message's type, or `webhook.ping` for a test.")
    status = serializers.ChoiceField(
        choices=WebhookDeliveryStatus.choices,
        help_text=(
            "`pending` (waiting its turn or a retry), `delivered` (a 2xx answer) or `failed` "
            "(an answer not worth retrying, or retries ran out)."
        ),
    )
    attempt_count = serializers.IntegerField(help_text="Tries since it was (re)queued.")
    next_attempt_at = DateTimeField(
        allow_null=True, help_text="When it is due next, while pending (earliest; in turn)."
    )
    delivered_at = DateTimeField(allow_null=True)
    created_at = DateTimeField()
    payload = serializers.JSONField(help_text="The body sent: `{type, timestamp, data}`.")
    attempts = WebhookAttemptSerializer(many=True)

    def to_representation(self, delivery):
        message = delivery.message
        pending = delivery.status == WebhookDeliveryStatus.PENDING
        return {
            "id": delivery.pk,
            "webhook_id": message.uid,
            "type": message.type,
            "status": delivery.status,
            "attempt_count": delivery.attempts,
            "next_attempt_at": _local(delivery.available_at) if pending else None,
            "delivered_at": _local(delivery.delivered_at),
            "created_at": _local(delivery.created_at),
            "payload": {
                "type": message.type,
                "timestamp": _local(message.occurred_at),
                "data": message.data,
            },
            "attempts": [
                {
                    "attempted_at": _local(attempt.attempted_at),
                    "status_code": attempt.status_code,
                    "duration_ms": attempt.duration_ms,
                    "response_body": attempt.response_body,
                    "error": attempt.error,
                }
                for attempt in delivery.attempt_log.all()
            ],
        }


def _local(moment):
    return timezone.localtime(moment) if moment is not None else None
