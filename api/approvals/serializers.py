"""The shape of an organiser's decision on a pending request."""

from rest_framework import serializers

DECLINE_MESSAGE_MAX_LENGTH = 2000


class DeclineSerializer(serializers.Serializer):
    """What an organiser may send when declining: a message for the attendee."""

    message = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=DECLINE_MESSAGE_MAX_LENGTH,
        help_text="Included in the email telling the attendee; optional.",
    )
