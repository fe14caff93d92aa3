"""Finding events: search, location, a start-time window and ordering on GET /api/events/."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api.caching import count_cache, next_start_cache, response_cache
from api.events.filters import SEARCH_MAX_LENGTH, SEARCH_MAX_WORDS
from core.models import Event
from testing.cpu import least_cpu

pytestmark = pytest.mark.django_db


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [event["name"] for event in response.json()["results"]]


def fresh_list_queries() -> CaptureQueriesContext:
    """Captures a list request's statements as a worker's first list request sends them: with
    nothing a worker keeps (api.caching: answers, counts, the next start), so two requests
    compare as equals and each is computed, never answered from what an earlier one kept."""
    for cache in (response_cache, count_cache, next_start_cache):
        cache.clear()
    return CaptureQueriesContext(connection)


@pytest.fixture
def events(event_factory, in_days):
    """Four upcoming events in March 2031, and one past event that matches every search."""
    event_factory(name="Django Past", location="Berlin", start_time=in_days(-3))
    return {
        "djangocon": event_factory(
            name="DjangoCon Europe", location="Palais des Congrès, Paris",
            start_time=at(2031, 3, 10, 9), end_time=at(2031, 3, 12, 18),
        ),
        "postgres": event_factory(
            name="PostgreSQL Workshop", location="Tech Hub, Berlin",
            start_time=at(2031, 3, 12, 9), end_time=at(2031, 3, 12, 17),
        ),
        "meetup": event_factory(
            name="berlin django meetup", location="Mesh, Oslo",
            start_time=at(2031, 3, 14, 18), end_time=at(2031, 3, 14, 21),
        ),
        "bootcamp": event_factory(
            name="API Bootcamp", location="Innovation Centre, Dublin",
            start_time=at(2031, 3, 16, 9), end_time=at(2031, 3, 16, 17),
        ),
    }  # fmt: skip


def test_search_matches_name_or_location_ignoring_case(api_client, events):
    response = api_client.get("/api/events/", {"search": "BERLIN"})
    assert names(response) == ["PostgreSQL Workshop", "berlin django meetup"]


def test_search_needs_every_word_somewhere(api_client, events):
    assert names(api_client.get("/api/events/", {"search": "django berlin"})) == [
        "berlin django meetup"
    ]
    assert names(api_client.get("/api/events/", {"search": "django paris"})) == ["DjangoCon Europe"]
    assert names(api_client.get("/api/events/", {"search": "django dublin"})) == []


def test_search_never_matches_across_the_name_and_the_location(api_client, events):
    # "Europe" ends the name and "Palais" starts the location of the same event.
    assert names(api_client.get("/api/events/", {"search": "europepalais"})) == []
    assert names(api_client.get("/api/events/", {"search": "europe palais"})) == [
        "DjangoCon Europe"
    ]


def test_search_sees_a_renamed_event(api_client, events):
    """The searched text is kept by the database from the name and location as they are."""
    Event.objects.filter(pk=events["bootcamp"].pk).update(location="Harbour Hall, Cork")
    assert names(api_client.get("/api/events/", {"search": "cork"})) == ["API Bootcamp"]
    assert names(api_client.get("/api/events/", {"search": "dublin"})) == []


@pytest.mark.parametrize(
    ("search", "message"),
    [
        (" ".join(["ab"] * (SEARCH_MAX_WORDS + 1)), f"at most {SEARCH_MAX_WORDS} words"),
        ("a" * (SEARCH_MAX_LENGTH + 1), f"at most {SEARCH_MAX_LENGTH} characters"),
        # 1,300 two-letter words, a 3.9 KB URL: once seconds of CPU per request.
        (" ".join(["ab"] * 1300), f"at most {SEARCH_MAX_LENGTH} characters"),
    ],
)
def test_an_oversized_search_is_400_naming_the_limit(api_client, events, search, message):
    def refused():
        with CaptureQueriesContext(connection) as queries:
            response = api_client.get("/api/events/", {"search": search})
        return response, queries

    cpu, (response, queries) = least_cpu(refused)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert message in body["errors"]["search"][0]
    assert len(queries) == 0
    assert cpu < 0.25, f"{cpu:.3f} s of CPU to refuse a search"


def searched_afresh(api_client, search: str):
    """A list request for `search`, computed afresh, and the statements it sent."""
    with fresh_list_queries() as queries:
        response = api_client.get("/api/events/", {"search": search})
    assert response.status_code == 200
    return response, queries


def test_the_largest_search_allowed_costs_what_a_one_word_search_costs(api_client, events):
    longest = " ".join(["ab"] * SEARCH_MAX_WORDS)  # 95 characters, 32 words
    cpu, (_, largest) = least_cpu(lambda: searched_afresh(api_client, longest))
    _, single = searched_afresh(api_client, "ab")

    assert len(largest) == len(single) > 0
    # Built as one filter: the SQL grows by one LIKE per word, never by a copy of the query.
    assert max(query["sql"].count("LIKE") for query in largest) == SEARCH_MAX_WORDS
    assert cpu < 0.25, f"{cpu:.3f} s of CPU for a {SEARCH_MAX_WORDS}-word search"


def test_search_treats_like_wildcards_as_text(api_client, events):
    assert names(api_client.get("/api/events/", {"search": "%"})) == []
    assert names(api_client.get("/api/events/", {"search": "_"})) == []


def test_location_contains_ignoring_case(api_client, events):
    assert names(api_client.get("/api/events/", {"location": "berlin"})) == ["PostgreSQL Workshop"]
    assert names(api_client.get("/api/events/", {"location": "HUB, BER"})) == [
        "PostgreSQL Workshop"
    ]
    assert names(api_client.get("/api/events/", {"location": "Lisbon"})) == []


def test_start_window_is_strict_on_both_ends(api_client, events):
    response = api_client.get(
        "/api/events/",
        {"starts_after": "2031-03-10T09:00:00Z", "starts_before": "2031-03-16T09:00:00Z"},
    )
    assert names(response) == ["PostgreSQL Workshop", "berlin django meetup"]


def test_start_window_reads_each_offset(api_client, events):
    # 2031-03-12T14:30+05:30 is 09:00 UTC, the workshop's start: strictly after excludes it.
    response = api_client.get("/api/events/", {"starts_after": "2031-03-12T14:30:00+05:30"})
    assert names(response) == ["berlin django meetup", "API Bootcamp"]
    response = api_client.get("/api/events/", {"starts_before": "2031-03-12T04:00:00-05:00"})
    assert names(response) == ["DjangoCon Europe"]


def test_a_window_in_the_past_still_lists_only_upcoming_events(api_client, events):
    response = api_client.get("/api/events/", {"starts_after": "2000-01-01T00:00:00Z"})
    assert "Django Past" not in names(response)
    assert len(names(response)) == 4


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("start_time", ["djangocon", "postgres", "meetup", "bootcamp"]),
        ("-start_time", ["bootcamp", "meetup", "postgres", "djangocon"]),
        ("name", ["bootcamp", "meetup", "djangocon", "postgres"]),
        ("-name", ["postgres", "djangocon", "meetup", "bootcamp"]),
    ],
)
def test_ordering(api_client, events, ordering, expected):
    response = api_client.get("/api/events/", {"ordering": ordering})
    assert names(response) == [events[key].name for key in expected]


@pytest.mark.parametrize("ordering", ["name", "-name", "start_time", "-start_time"])
def test_ordering_breaks_ties_by_id(api_client, event_factory, ordering):
    start = at(2031, 5, 1, 9)
    ids = [event_factory(name="Same", start_time=start).pk for _ in range(3)]
    response = api_client.get("/api/events/", {"ordering": ordering})
    assert [event["id"] for event in response.json()["results"]] == ids


def test_filters_combine_and_keep_pagination(api_client, event_factory):
    for day in range(1, 26):
        event_factory(name=f"Django day {day}", start_time=at(2031, 4, day, 9))
    event_factory(name="Flask day", start_time=at(2031, 4, 3, 9))

    first = api_client.get(
        "/api/events/", {"search": "django", "ordering": "-start_time", "page_size": 10}
    ).json()

    assert first["count"] == 25
    assert first["results"][0]["name"] == "Django day 25"
    assert "search=django" in first["next"]
    assert "ordering=-start_time" in first["next"]
    last = api_client.get(first["next"].replace("page=2", "page=3")).json()
    assert [event["name"] for event in last["results"]] == [
        f"Django day {day}" for day in range(5, 0, -1)
    ]


def test_empty_text_filters_match_everything(api_client, events):
    assert len(names(api_client.get("/api/events/", {"search": "", "location": ""}))) == 4


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"starts_after": "2031-03-12T09:00:00"}, "starts_after", "UTC offset"),
        ({"starts_before": "tomorrow"}, "starts_before", "ISO 8601"),
        ({"starts_after": "2031-02-30T09:00:00Z"}, "starts_after", "ISO 8601"),
        ({"starts_after": "2031-03-12T09:00:00+25:00"}, "starts_after", "ISO 8601"),
        # An unescaped + arrives as a space.
        ({"starts_after": "2031-03-12T09:00:00 05:30"}, "starts_after", "%2B"),
        ({"starts_after": "0001-01-01T00:00:00+05:00"}, "starts_after", "range"),
        ({"starts_before": "9999-12-31T23:00:00-05:00"}, "starts_before", "range"),
        ({"starts_after": ""}, "starts_after", "leave this parameter out"),
        ({"ordering": "price"}, "ordering", "valid choice"),
        ({"ordering": "start_time,name"}, "ordering", "valid choice"),
        ({"ordering": ""}, "ordering", "leave this parameter out"),
        ({"search": "a\x00b"}, "search", "Null characters"),
        (
            {"starts_after": "2031-03-14T00:00:00Z", "starts_before": "2031-03-13T00:00:00Z"},
            "starts_before",
            "later than starts_after",
        ),
        (
            {"starts_after": "2031-03-14T00:00:00Z", "starts_before": "2031-03-14T00:00:00Z"},
            "starts_before",
            "later than starts_after",
        ),
    ],
)
def test_invalid_filter_is_400_naming_it(api_client, events, params, field, message):
    response = api_client.get("/api/events/", params)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"]
    assert list(body["errors"]) == [field]
    assert message in body["errors"][field][0]


def test_filters_do_not_apply_to_one_event(api_client, events):
    event = events["bootcamp"]
    response = api_client.get(f"/api/events/{event.pk}/", {"search": "nothing like it"})
    assert response.status_code == 200
    assert response.json()["id"] == event.pk


@pytest.mark.parametrize("rows", [1, 50])
def test_filters_add_no_query(api_client, event_factory, rows):
    for day in range(rows):
        event_factory(name=f"Django {day}", start_time=at(2031, 6, 1 + day % 28, 9))
    filters = {
        "search": "django",
        "location": "hall",
        "starts_after": "2031-01-01T00:00:00Z",
        "starts_before": "2032-01-01T00:00:00Z",
        "ordering": "-name",
    }

    with fresh_list_queries() as unfiltered:
        api_client.get("/api/events/", {"page_size": 100})
    with fresh_list_queries() as filtered:
        response = api_client.get("/api/events/", {**filters, "page_size": 100})

    assert response.json()["count"] == rows
    assert len(filtered) == len(unfiltered)
