"""The OpenAPI description of the iCalendar feeds: the upcoming events, and one event."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from api.datetimes import NAIVE_DATETIME_MESSAGE
from api.events.filters import EventFilter
from api.openapi import (
    EVENT_ID,
    EVENT_NOT_FOUND,
    NO_SUCH_ADDRESS,
    documented,
    invalid,
    rate_in_words,
    throttled,
)

CALENDAR_EXAMPLE = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Events API//Events//EN
CALSCALE:GREGORIAN
METHOD:PUBLISH
BEGIN:VEVENT
SUMMARY:Launch Party
DTSTART:20310315T180000Z
DTEND:20310315T220000Z
DTSTAMP:20301129T120000Z
UID:event-10@events.example.org
SEQUENCE:0
LOCATION:Dock 5\\, Hamburg
ORGANIZER:mailto:events@events.example.org
STATUS:CONFIRMED
URL:https://events.example.org/api/events/10/
END:VEVENT
END:VCALENDAR
"""


# The list's filters, which the feed applies too (its ordering and pages it does not).
FEED_FILTERS = [
    OpenApiParameter(
        name,
        OpenApiTypes.DATETIME if name.startswith("starts_") else OpenApiTypes.STR,
        description=EventFilter.base_filters[name].extra["help_text"],
    )
    for name in ("search", "location", "starts_after", "starts_before")
]


def calendar_response(description: str) -> dict:
    return {
        (200, "text/calendar"): OpenApiResponse(
            OpenApiTypes.STR,
            description,
            examples=[OpenApiExample("iCalendar", value=CALENDAR_EXAMPLE, response_only=True)],
        )
    }


feed_schema = documented(
    operation_id="events_calendar",
    summary="Upcoming events as an iCalendar feed",
    description=(
        "Every upcoming event (RFC 5545, `METHOD:PUBLISH`), for a calendar to subscribe to: "
        "the list's filters apply (`?search=` narrows it), its `ordering` and pages do not. "
        "Not paginated: streamed, read a thousand events per query, and cut at the soonest "
        f"{settings.CALENDAR_FEED_MAX_EVENTS:,} events (`DJANGO_CALENDAR_FEED_MAX_EVENTS`); a cut "
        "feed says so in its "
        "`X-Feed-Truncated-At` header, the number of events it holds. Each event's `UID` is "
        "stable and its `SEQUENCE` grows when its name, place or times change. Answered as "
        "`text/calendar` whatever the `Accept` header asks; errors are JSON. Kept and answered "
        "again like the event list until an upcoming event changes or the soonest one starts."
    ),
    responses=calendar_response("The upcoming events, one VEVENT each."),
    parameters=FEED_FILTERS,
    errors=[
        invalid(
            "A filter value is malformed, as for the event list.",
            starts_after=[NAIVE_DATETIME_MESSAGE],
        ),
        throttled(
            f"feeds computed per client address ({rate_in_words('feed')} unless configured "
            "otherwise; a feed answered from the cache spends none)"
        ),
    ],
)
event_feed_schema = documented(
    operation_id="events_ics",
    summary="One event as iCalendar",
    description=(
        "Any event, past or cancelled ones too (`STATUS:CANCELLED`), as a calendar of one "
        "VEVENT with the same `UID` and `SEQUENCE` as in the feed and in attendees' invites."
    ),
    responses=calendar_response("The event."),
    parameters=[EVENT_ID],
    errors=[EVENT_NOT_FOUND, NO_SUCH_ADDRESS],
)
