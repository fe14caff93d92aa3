"""The staff side: events and attendees, with every seat change going through core.services."""

from core.admin.attendees import AttendeeAdmin
from core.admin.events import EventAdmin

__all__ = ["AttendeeAdmin", "EventAdmin"]
