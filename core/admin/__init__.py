"""The staff side: events and attendees, with every seat change going through core.services;
the outbox of emails."""

from core.admin.attendees import AttendeeAdmin
from core.admin.events import EventAdmin
from core.admin.messages import OutgoingMessageAdmin

__all__ = ["AttendeeAdmin", "EventAdmin", "OutgoingMessageAdmin"]
