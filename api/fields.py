"""Serializer fields every resource's serializers share: datetimes in and out, and text that
must show something."""

from django.utils import timezone
from rest_framework import serializers
from rest_framework.fields import empty

from api.datetimes import INVALID_DATETIME_MESSAGE, InvalidDateTime, parse_aware_datetime
from core.text import BLANK_TEXT_MESSAGE, is_blank


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
