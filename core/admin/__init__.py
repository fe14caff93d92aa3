"""The staff side: events and attendees, with every seat change going through core.services;
the outbox of emails; the record of erasures; webhook endpoints and their deliveries."""

from core.admin.attendees import AttendeeAdmin
from core.admin.erasures import ErasureRecordAdmin
from core.admin.events import EventAdmin
from core.admin.messages import OutgoingMessageAdmin
from core.admin.webhooks import WebhookDeliveryAdmin, WebhookEndpointAdmin

__all__ = [
    "AttendeeAdmin",
    "ErasureRecordAdmin",
    "EventAdmin",
    "OutgoingMessageAdmin",
    "WebhookDeliveryAdmin",
    "WebhookEndpointAdmin",
]
