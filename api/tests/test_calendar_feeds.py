"""The calendar feeds: every upcoming event (the list's filters applied), and one event."""

import icalendar
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.caching import stream_cache
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
    stream_cache.clear()  # a setting is read at start-up; here it changes mid-test
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


# The feed, cached like the list (api/caching.py) and budgeted per client address.

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="change versions are kept on PostgreSQL only"
)
FEED = "/api/events.ics"


def fetch_feed(client, path=FEED, **params) -> tuple[bytes, list[str], object]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, params)
        body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == 200, body
    return body, [query["sql"] for query in queries], response


def feed_hit(client, **params) -> bytes:
    """A feed answered from the cache: one small query, the versions' read."""
    body, queries, response = fetch_feed(client, **params)
    assert len(queries) == 1, queries
    assert "core_event_catalog" in queries[0]
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert int(response["Content-Length"]) == len(body)
    return body


@postgresql_only
def test_the_feed_is_streamed_then_served_from_the_cache(api_client, event_factory, in_days):
    for day in range(1, 4):
        # A place without digits: the search for "Day 2" must match by the name alone.
        event_factory(
            name=f"Day {day}",
            location="Town Hall",
            start_time=in_days(day),
            end_time=in_days(day, hours=2),
        )

    first, _, response = fetch_feed(api_client)
    assert response.streaming

    assert feed_hit(api_client) == first
    assert summaries(icalendar.Calendar.from_ical(feed_hit(api_client))) == [
        "Day 1",
        "Day 2",
        "Day 3",
    ]
    # Another filter is another answer, kept on its own.
    fetch_feed(api_client, search="Day 2")
    assert summaries(icalendar.Calendar.from_ical(feed_hit(api_client, search="Day 2"))) == [
        "Day 2"
    ]


@postgresql_only
@pytest.mark.parametrize(
    "change",
    [
        # A field only the event's version moves (not the catalog's).
        lambda event, in_days: event.__class__.objects.filter(pk=event.pk).update(
            end_time=in_days(2, hours=5)
        ),
        lambda event, in_days: event.__class__.objects.filter(pk=event.pk).update(name="Renamed"),
        lambda event, in_days: event.__class__.objects.filter(pk=event.pk).update(
            status=EventStatus.CANCELLED
        ),
        lambda event, in_days: event.delete(),
    ],
    ids=["end time", "name", "cancelled", "deleted"],
)
def test_a_committed_change_to_an_event_of_the_feed_is_seen_by_the_next_read(
    api_client, event_factory, in_days, change
):
    event_factory(name="Stays", start_time=in_days(1), end_time=in_days(1, hours=2))
    event = event_factory(name="Changes", start_time=in_days(2), end_time=in_days(2, hours=2))
    fetch_feed(api_client)
    before = feed_hit(api_client)

    change(event, in_days)

    after, queries, _ = fetch_feed(api_client)
    assert len(queries) > 1  # computed afresh
    assert after != before
    assert after == fetch_feed(api_client)[0] == feed_hit(api_client)


@postgresql_only
def test_a_feed_whose_events_changed_while_it_streamed_is_not_kept(
    api_client, event_factory, in_days
):
    event = event_factory(name="Changes", start_time=in_days(2), end_time=in_days(2, hours=2))
    response = api_client.get(FEED)
    pieces = iter(response.streaming_content)
    next(pieces)  # the calendar's head; the events are read after it
    type(event).objects.filter(pk=event.pk).update(end_time=in_days(2, hours=5))
    b"".join(pieces)

    _, queries, _ = fetch_feed(api_client)
    assert len(queries) > 1  # computed afresh, not the stale stream


@pytest.mark.usefixtures("fast_passwords")
def test_computed_feeds_spend_a_budget_of_their_own(api_client, settings, event_factory):
    event_factory()
    settings.API_THROTTLE = True
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "feed": "2/min",
        },
    }
    from django.core.cache import cache

    cache.clear()

    def status(word: str) -> int:
        response = api_client.get(FEED, {"search": word})
        if response.streaming:
            b"".join(response.streaming_content)  # read whole, as a client does
        return response.status_code

    statuses = [status(word) for word in ("a", "b", "c")]

    assert statuses == [200, 200, 429]
    refused = api_client.get(FEED, {"search": "d"})
    assert refused.json()["code"] == "throttled"
    assert "Retry-After" in refused
    # Other reads spend no feed budget.
    assert api_client.get("/api/events/").status_code == 200
    if connection.vendor == "postgresql":
        # A feed answered from the cache costs nothing, and spends nothing.
        feed_hit(api_client, search="a")
