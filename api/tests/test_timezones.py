"""`?tz=`: datetimes in any response are shown in the zone a client names."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from core.models import Event

pytestmark = pytest.mark.django_db


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_default_is_utc_with_z(api_client, event_factory):
    event = event_factory(start_time=at(2031, 3, 15, 3, 30), end_time=at(2031, 3, 15, 5, 30))

    body = api_client.get(f"/api/events/{event.pk}/").json()

    assert body["start_time"] == "2031-03-15T03:30:00Z"
    assert body["end_time"] == "2031-03-15T05:30:00Z"


def test_detail_in_a_named_zone_shows_its_offset(api_client, event_factory):
    event = event_factory(start_time=at(2031, 3, 15, 3, 30), end_time=at(2031, 3, 15, 5, 30))

    body = api_client.get(f"/api/events/{event.pk}/", {"tz": "Asia/Kolkata"}).json()

    assert body["start_time"] == "2031-03-15T09:00:00+05:30"
    assert body["end_time"] == "2031-03-15T11:00:00+05:30"


def test_list_across_a_daylight_saving_switch(api_client, event_factory):
    # New York moves from EST (-05:00) to EDT (-04:00) on 9 March 2031 at 02:00 local time.
    event_factory(start_time=at(2031, 3, 8, 14), end_time=at(2031, 3, 8, 16))
    event_factory(start_time=at(2031, 3, 10, 14), end_time=at(2031, 3, 10, 16))

    body = api_client.get("/api/events/", {"tz": "America/New_York"}).json()

    starts = [event["start_time"] for event in body["results"]]
    assert starts == ["2031-03-08T09:00:00-05:00", "2031-03-10T10:00:00-04:00"]


def test_utc_by_name_is_shown_with_z(api_client, event_factory):
    event = event_factory(start_time=at(2031, 3, 15, 9), end_time=at(2031, 3, 15, 10))
    body = api_client.get(f"/api/events/{event.pk}/", {"tz": "UTC"}).json()
    assert body["start_time"] == "2031-03-15T09:00:00Z"


def test_create_keeps_the_offsets_sent_and_answers_in_the_zone_asked(api_client):
    response = api_client.post(
        "/api/events/?tz=America/New_York",
        {
            "name": "Launch",
            "location": "Dock 5",
            "start_time": "2031-03-15T09:00:00+05:30",
            "end_time": "2031-03-15T11:00:00Z",
            "max_capacity": 5,
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["start_time"] == "2031-03-14T23:30:00-04:00"
    assert body["end_time"] == "2031-03-15T07:00:00-04:00"
    stored = Event.objects.get(pk=body["id"])
    assert (stored.start_time, stored.end_time) == (at(2031, 3, 15, 3, 30), at(2031, 3, 15, 11))


def test_registration_and_attendees_in_a_named_zone(api_client, event_factory):
    event = event_factory()
    registered = api_client.post(
        f"/api/events/{event.pk}/register/?tz=Asia/Kolkata",
        {"name": "Ada", "email": "ada@example.com"},
        format="json",
    ).json()
    listed = api_client.get(f"/api/events/{event.pk}/attendees/", {"tz": "Asia/Kolkata"}).json()

    assert registered["registered_at"].endswith("+05:30")
    assert listed["results"][0]["registered_at"] == registered["registered_at"]


def test_the_latest_event_the_api_takes_shows_in_the_farthest_east_zone(api_client):
    payload = {
        "name": "Far future",
        "location": "Kiritimati",
        "start_time": "9999-12-30T10:00:00Z",
        "end_time": "9999-12-30T23:00:00Z",
        "max_capacity": 5,
    }
    assert api_client.post("/api/events/", payload, format="json").status_code == 201

    response = api_client.get("/api/events/", {"tz": "Pacific/Kiritimati"})

    assert response.status_code == 200
    assert response.json()["results"][0]["end_time"] == "9999-12-31T13:00:00+14:00"


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Olympus_Mons",
        "asia/kolkata",  # IANA names are case-sensitive
        "",
        " Asia/Kolkata",
        "../../etc/passwd",
        "/usr/share/zoneinfo/UTC",
        "Asia/",
        "+05:30",
        "Asia/Kolkata\x00",
    ],
)
def test_unknown_zone_is_400_invalid_timezone(api_client, event_factory, name):
    event = event_factory()

    for path in ("/api/events/", f"/api/events/{event.pk}/", f"/api/events/{event.pk}/attendees/"):
        response = api_client.get(path, {"tz": name})

        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "invalid_timezone"
        assert "IANA" in body["detail"]
        assert "tz" in body["errors"]


def test_unknown_zone_refuses_a_write_before_it_happens(api_client, event_factory):
    event = event_factory()
    response = api_client.post(
        f"/api/events/{event.pk}/register/?tz=Nowhere",
        {"name": "Ada", "email": "ada@example.com"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_timezone"
    assert not event.attendees.exists()


def test_the_zone_does_not_outlive_the_request(api_client, event_factory):
    event = event_factory(start_time=at(2031, 3, 15, 9), end_time=at(2031, 3, 15, 10))
    api_client.get(f"/api/events/{event.pk}/", {"tz": "Asia/Kolkata"})

    assert timezone.get_current_timezone_name() == "UTC"
    assert api_client.get(f"/api/events/{event.pk}/").json()["start_time"] == "2031-03-15T09:00:00Z"
