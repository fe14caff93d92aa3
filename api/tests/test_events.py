"""Creating, listing and reading events over HTTP."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.serializers import ModelSerializer

from api.events.serializers import EventSerializer
from api.pagination import PAGE_SIZE_MESSAGE
from api.registrations.serializers import AttendeeSerializer
from api.renderers import JSONRenderer
from core.models import Attendee, Event
from core.text import BLANK_TEXT_MESSAGE

pytestmark = pytest.mark.django_db

EVENT_FIELDS = {
    "id", "name", "location", "start_time", "end_time", "max_capacity", "status",
    "attendee_count", "seats_available", "waitlist_count", "requires_approval",
}  # fmt: skip


def event_payload(**overrides):
    payload = {
        "name": "Launch Party",
        "location": "Dock 5",
        "start_time": "2031-03-15T09:00:00Z",
        "end_time": "2031-03-15T12:00:00Z",
        "max_capacity": 50,
    }
    payload.update(overrides)
    return payload


def test_create_event(api_client):
    response = api_client.post("/api/events/", event_payload(), format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == EVENT_FIELDS
    assert body["start_time"] == "2031-03-15T09:00:00Z"
    assert (body["attendee_count"], body["seats_available"]) == (0, 50)
    assert (body["status"], body["waitlist_count"]) == ("scheduled", 0)
    assert Event.objects.get(pk=body["id"]).name == "Launch Party"


def test_create_event_keeps_the_instant_of_an_offset(api_client):
    response = api_client.post(
        "/api/events/",
        event_payload(start_time="2031-03-15T09:00:00+05:30", end_time="2031-03-15T11:00:00+05:30"),
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["start_time"] == "2031-03-15T03:30:00Z"
    stored = Event.objects.get(pk=response.json()["id"]).start_time
    assert stored == datetime(2031, 3, 15, 3, 30, tzinfo=UTC)


def test_create_event_without_offset_says_to_add_one(api_client):
    response = api_client.post(
        "/api/events/", event_payload(start_time="2031-03-15T09:00:00"), format="json"
    )

    assert response.status_code == 400
    message = response.json()["errors"]["start_time"][0]
    assert "UTC offset" in message
    assert "2030-03-15T09:00:00Z" in message


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"location": ""}, "location"),
        ({"location": "x" * 256}, "location"),
        ({"start_time": "2020-01-01T09:00:00Z", "end_time": "2020-01-01T10:00:00Z"}, "start_time"),
        ({"start_time": "tomorrow"}, "start_time"),
        ({"start_time": "2031-02-30T09:00:00Z"}, "start_time"),
        ({"start_time": "2031-03-15T12:99:00Z"}, "start_time"),
        ({"start_time": "2031-03-15T09:00:00+25:00"}, "start_time"),
        ({"end_time": "9999-12-31T20:00:00Z"}, "end_time"),
        ({"end_time": "2031-03-15T09:00:00Z"}, "end_time"),
        ({"end_time": "2031-03-15T08:00:00Z"}, "end_time"),
        ({"max_capacity": 0}, "max_capacity"),
        ({"max_capacity": 1_000_001}, "max_capacity"),
        ({"max_capacity": "many"}, "max_capacity"),
        ({"max_capacity": 2.5}, "max_capacity"),
        ({"max_capacity": None}, "max_capacity"),
    ],
)
def test_create_event_refuses_invalid_fields(api_client, overrides, field):
    response = api_client.post("/api/events/", event_payload(**overrides), format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"]
    assert field in body["errors"]
    assert not Event.objects.exists()


@pytest.mark.parametrize("missing", ["name", "location", "start_time", "end_time", "max_capacity"])
def test_create_event_requires_every_field(api_client, missing):
    payload = event_payload()
    del payload[missing]

    response = api_client.post("/api/events/", payload, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][missing] == ["This field is required."]


INVISIBLE = [
    "\u200b",  # zero-width space
    " \u200c\u200d ",  # zero-width non-joiner and joiner, among spaces
    "\u2060\ufeff",  # word joiner, byte order mark
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e",  # bidi marks, embeddings, overrides
    "\u2066\u2067\u2068\u2069",  # bidi isolates
    "\u00ad\u180e\u3000",  # soft hyphen, Mongolian vowel separator, ideographic space
    "\u3164\ufe0f",  # Hangul filler, variation selector
]


@pytest.mark.parametrize("field", ["name", "location"])
@pytest.mark.parametrize("text", INVISIBLE)
def test_create_event_refuses_text_of_invisible_characters_alone(api_client, field, text):
    response = api_client.post("/api/events/", event_payload(**{field: text}), format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["errors"] == {field: [BLANK_TEXT_MESSAGE]}
    assert not Event.objects.exists()


def test_create_event_keeps_invisible_characters_inside_visible_text(api_client):
    name, location = "\u200f\u05e2\u05e8\u05d1 Meetup", "Caf\u00e9\u200b Hall\ufe0f"
    response = api_client.post(
        "/api/events/", event_payload(name=f"  {name} ", location=location), format="json"
    )
    assert response.status_code == 201
    assert (response.json()["name"], response.json()["location"]) == (name, location)


def test_create_event_trims_names(api_client):
    response = api_client.post(
        "/api/events/", event_payload(name="  Launch  ", location=" Dock "), format="json"
    )
    assert (response.json()["name"], response.json()["location"]) == ("Launch", "Dock")


def test_list_shows_only_upcoming_events_soonest_first(api_client, event_factory, in_days):
    event_factory(name="Past", start_time=in_days(-2))
    event_factory(name="Started", start_time=in_days(0, minutes=-5))
    later = event_factory(name="Later", start_time=in_days(9))
    start = in_days(3)
    tie_a = event_factory(name="Tie A", start_time=start)
    tie_b = event_factory(name="Tie B", start_time=start)

    body = api_client.get("/api/events/").json()

    assert body["count"] == 3
    assert [event["id"] for event in body["results"]] == [tie_a.pk, tie_b.pk, later.pk]
    assert set(body["results"][0]) == EVENT_FIELDS


def test_list_is_paginated(api_client, event_factory, in_days):
    for day in range(1, 26):
        event_factory(start_time=in_days(day))

    first = api_client.get("/api/events/").json()
    assert (first["count"], len(first["results"]), first["previous"]) == (25, 20, None)
    assert "page=2" in first["next"]

    second = api_client.get("/api/events/", {"page": 2}).json()
    assert (len(second["results"]), second["next"]) == (5, None)

    small = api_client.get("/api/events/", {"page_size": 10, "page": 3}).json()
    assert len(small["results"]) == 5


def test_page_size_is_capped_at_100(api_client, event_factory, in_days):
    Event.objects.bulk_create(
        Event(name=f"E{i}", location="L", start_time=in_days(1, minutes=i),
              end_time=in_days(2, minutes=i), max_capacity=5)
        for i in range(105)
    )  # fmt: skip
    body = api_client.get("/api/events/", {"page_size": 500}).json()
    assert len(body["results"]) == 100


@pytest.mark.parametrize("page_size", ["0", "-5", "abc", "", "2.5", "1e3"])
def test_page_size_not_a_whole_number_from_1_is_400_naming_it(api_client, event_factory, page_size):
    event = event_factory()

    for path in ("/api/events/", f"/api/events/{event.pk}/attendees/"):
        response = api_client.get(path, {"page_size": page_size})

        assert response.status_code == 400, path
        body = response.json()
        assert body["code"] == "invalid"
        assert body["errors"] == {"page_size": [PAGE_SIZE_MESSAGE]}


def test_page_size_is_capped_at_100_on_the_attendee_list_too(api_client, event_factory):
    event = event_factory(max_capacity=200)
    Attendee.objects.bulk_create(
        Attendee(event=event, name=f"A{i}", email=f"a{i}@example.com") for i in range(105)
    )
    body = api_client.get(f"/api/events/{event.pk}/attendees/", {"page_size": 101}).json()
    assert (body["count"], len(body["results"])) == (105, 100)


def test_page_beyond_the_end_is_a_json_404(api_client):
    response = api_client.get("/api/events/", {"page": 7})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_detail_shows_any_event_with_seat_figures(
    api_client, event_factory, attendee_factory, in_days
):
    past = event_factory(start_time=in_days(-30), max_capacity=4)
    attendee_factory(event=past)

    response = api_client.get(f"/api/events/{past.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert (body["attendee_count"], body["seats_available"]) == (1, 3)
    assert body["start_time"].endswith("Z")


@pytest.mark.parametrize("event_id", ["987654", "abc", "1.5", "99999999999999999999999"])
def test_detail_of_unknown_or_malformed_id_is_404(api_client, event_id):
    response = api_client.get(f"/api/events/{event_id}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_unknown_event_is_told_in_one_message_by_every_operation(api_client):
    missing = "/api/events/987654"
    answers = [
        api_client.get(f"{missing}/"),
        api_client.get(f"{missing}/attendees/"),
        api_client.post(
            f"{missing}/register/", {"name": "Ada", "email": "ada@example.com"}, format="json"
        ),
    ]

    assert [(answer.status_code, answer.json()) for answer in answers] == [
        (404, {"detail": "No event exists with this id.", "code": "not_found"})
    ] * 3


def test_list_sees_now_per_request(api_client, event_factory):
    event = event_factory(start_time=timezone.now() + timedelta(seconds=1))
    assert api_client.get("/api/events/").json()["count"] == 1
    Event.objects.filter(pk=event.pk).update(start_time=timezone.now() - timedelta(seconds=1))
    assert api_client.get("/api/events/").json()["count"] == 0


def test_hand_written_representation_matches_the_declared_fields(event_factory, attendee_factory):
    """EventSerializer and AttendeeSerializer write their output by hand for speed; it must
    stay what DRF would produce from the fields they declare."""
    event = event_factory()
    attendee = attendee_factory(event=event)
    event.refresh_from_db()

    for serializer_class, instance in [
        (EventSerializer, event),
        (AttendeeSerializer, attendee),
    ]:
        serializer = serializer_class(instance)
        by_fields = ModelSerializer.to_representation(serializer, instance)
        assert JSONRenderer().render(serializer.data) == JSONRenderer().render(by_fields)


@pytest.mark.parametrize("path", ["/api/events/", "/api/events/{id}/", "/api/nowhere/"])
def test_every_api_answer_varies_with_who_asks(api_client, event_factory, path):
    event = event_factory()
    response = api_client.get(path.format(id=event.pk))
    again = api_client.get(path.format(id=event.pk))  # from the cache, where there is one

    for answer in (response, again):
        vary = {value.strip() for value in answer["Vary"].split(",")}
        assert {"Authorization", "Cookie"} <= vary
