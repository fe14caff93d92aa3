"""The calendar feeds: every upcoming event (the list's filters applied), and one event."""

import icalendar
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import EventStatus
from core.selectors import in_start_order, upcoming_events

pytestmark = pytest.mark.django_db


def parsed(response) -> icalendar.Calendar:
    assert response.status_code == 200, response
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return icalendar.Calendar.from_ical(content)


def summaries(calendar) -> list[str]:
    return [str(event["SUMMARY"]) for event in calendar.walk("VEVENT")]


def test_the_feed_holds_every_upcoming_event_unpaginated(api_client, event_factory, in_days):
    events = [event_factory(name=f"Meetup {n}", start_time=in_days(1 + n)) for n in range(25)]
    event_factory(name="Over", start_time=in_days(-2), end_time=in_days(-1))
    event_factory(name="Called off", status=EventStatus.CANCELLED)

    calendar = parsed(api_client.get("/api/events.ics"))
    assert calendar["METHOD"] == "PUBLISH"
    assert summaries(calendar) == [event.name for event in events]  # 25: no page of 20
    first = calendar.walk("VEVENT")[0]
    assert str(first["LOCATION"]) == events[0].location
    assert first.decoded("DTSTART") == events[0].start_time.replace(microsecond=0)
    assert first["UID"] == f"event-{events[0].pk}@127.0.0.1"


def test_the_feed_takes_the_lists_filters(api_client, event_factory):
    event_factory(name="Django Berlin")
    event_factory(name="Rust Paris")
    calendar = parsed(api_client.get("/api/events.ics", {"search": "django"}))
    assert summaries(calendar) == ["Django Berlin"]


def test_a_bad_filter_is_refused_in_json(api_client):
    response = api_client.get("/api/events.ics", {"starts_after": "yesterday"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_a_calendar_client_asking_for_text_calendar_gets_it(api_client, event_factory):
    event_factory(name="Meetup")
    response = api_client.get("/api/events.ics", HTTP_ACCEPT="text/calendar")
    assert summaries(parsed(response)) == ["Meetup"]
    response = api_client.get("/api/events/999/event.ics", HTTP_ACCEPT="text/calendar")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_an_empty_feed_is_a_valid_calendar(api_client):
    assert summaries(parsed(api_client.get("/api/events.ics"))) == []


def test_one_event_as_icalendar(api_client, event_factory):
    event = event_factory(name="PyCon; Berlin, 2030")
    calendar = parsed(api_client.get(f"/api/events/{event.pk}/event.ics"))
    (vevent,) = calendar.walk("VEVENT")
    assert str(vevent["SUMMARY"]) == "PyCon; Berlin, 2030"
    assert vevent["STATUS"] == "CONFIRMED"
    assert vevent["SEQUENCE"] == 0


def test_a_cancelled_event_says_so_in_its_icalendar(api_client, event_factory):
    event = event_factory(status=EventStatus.CANCELLED)
    (vevent,) = parsed(api_client.get(f"/api/events/{event.pk}/event.ics")).walk("VEVENT")
    assert vevent["STATUS"] == "CANCELLED"


def test_the_feed_reads_a_fixed_number_of_rows_per_query(event_factory, in_days):
    for n in range(7):
        event_factory(start_time=in_days(1, hours=n % 3))  # ties on start_time, broken by id
    queryset = upcoming_events(now=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        chunked = list(in_start_order(queryset, chunk_size=2))
    assert [event.pk for event in chunked] == list(
        queryset.order_by("start_time", "id").values_list("pk", flat=True)
    )
    assert len(chunked) == 7
    assert len(queries) == 4  # 2 + 2 + 2 + 1 rows


def test_the_feed_holds_the_soonest_events_up_to_its_limit_and_says_so(
    api_client, event_factory, in_days, settings
):
    settings.CALENDAR_FEED_MAX_EVENTS = 3
    events = [event_factory(start_time=in_days(10 - n)) for n in range(5)]
    response = api_client.get("/api/events.ics")
    assert summaries(parsed(response)) == [event.name for event in reversed(events)][:3]
    assert response["X-Feed-Truncated-At"] == "3"

    settings.CALENDAR_FEED_MAX_EVENTS = 5
    response = api_client.get("/api/events.ics")
    assert len(summaries(parsed(response))) == 5
    assert "X-Feed-Truncated-At" not in response


def test_a_limit_cuts_the_chunks_it_reads(event_factory, in_days):
    for n in range(7):
        event_factory(start_time=in_days(1, hours=n))
    queryset = upcoming_events(now=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        chunked = list(in_start_order(queryset, limit=5, chunk_size=2))
    assert [event.pk for event in chunked] == list(
        queryset.order_by("start_time", "id").values_list("pk", flat=True)[:5]
    )
    assert len(queries) == 3  # 2 + 2 + 1 rows, never the rest
