"""Event reads are reused while nothing changes, and never outlive a committed change."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.caching import response_cache
from core.models import Event
from core.services import cancel_registration, register_attendee, update_event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.response_cache]

CACHES_HERE = connection.vendor == "postgresql"


def get(client, path, **params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, params)
    assert response.status_code == 200, response.content
    return response.json(), [query["sql"] for query in queries]


def test_repeated_reads_are_served_from_the_cache(api_client, event_factory):
    event = event_factory()

    first_list, _ = get(api_client, "/api/events/")
    again_list, list_queries = get(api_client, "/api/events/")
    first_detail, _ = get(api_client, f"/api/events/{event.pk}/")
    again_detail, detail_queries = get(api_client, f"/api/events/{event.pk}/")

    assert (again_list, again_detail) == (first_list, first_detail)
    assert len(list_queries) == len(detail_queries) == 1
    if CACHES_HERE:  # a hit reads the data version and nothing else
        assert "core_data_version" in list_queries[0]
        assert "core_data_version" in detail_queries[0]
    else:  # SQLite keeps no data version: every read is computed afresh
        assert '"core_event"' in list_queries[0]
        assert '"core_event"' in detail_queries[0]


def test_a_registration_answered_201_is_seen_by_the_next_read(api_client, event_factory):
    event = event_factory(max_capacity=3)
    get(api_client, "/api/events/")
    get(api_client, f"/api/events/{event.pk}/")
    assert get(api_client, f"/api/events/{event.pk}/attendees/")[0]["count"] == 0

    response = api_client.post(
        f"/api/events/{event.pk}/register/", {"name": "Ada", "email": "a@x.io"}, format="json"
    )
    assert response.status_code == 201

    detail, _ = get(api_client, f"/api/events/{event.pk}/")
    listed, _ = get(api_client, "/api/events/")
    attendees, _ = get(api_client, f"/api/events/{event.pk}/attendees/")
    assert detail["attendee_count"] == listed["results"][0]["attendee_count"] == 1
    assert [attendee["email"] for attendee in attendees["results"]] == ["a@x.io"]


def test_every_kind_of_write_is_seen_by_the_next_read(api_client, event_factory, in_days, tmp_path):
    event = event_factory(name="Before", max_capacity=5)
    path = f"/api/events/{event.pk}/"

    def detail():
        return get(api_client, path)[0]

    detail()
    fields = {k: getattr(event, k) for k in ("location", "start_time", "end_time")}
    update_event(event_id=event.pk, name="Renamed", max_capacity=5, **fields)
    assert detail()["name"] == "Renamed"

    attendee = register_attendee(event_id=event.pk, name="Ada", email="a@x.io")
    assert detail()["attendee_count"] == 1

    cancel_registration(attendee_id=attendee.pk)
    assert detail()["attendee_count"] == 0

    Event.objects.get(pk=event.pk).delete()
    assert api_client.get(path).status_code == 404

    listed = get(api_client, "/api/events/")[0]
    (tmp_path / "e.csv").write_text(
        "key,name,location,start_time,end_time,max_capacity\n"
        "k,Loaded,Hall,2031-05-01T09:00:00Z,2031-05-01T17:00:00Z,5\n"
    )
    (tmp_path / "a.csv").write_text("event_key,name,email\n")
    call_command(
        "load_sample_data", "--events", tmp_path / "e.csv", "--attendees", tmp_path / "a.csv"
    )
    assert get(api_client, "/api/events/")[0] != listed
    assert [e["name"] for e in get(api_client, "/api/events/")[0]["results"]] == ["Loaded"]


def test_the_list_drops_an_event_the_moment_it_starts(api_client, event_factory, monkeypatch):
    now = timezone.now()
    event_factory(name="Soon", start_time=now + timedelta(seconds=30))
    event_factory(name="Later", start_time=now + timedelta(days=2))
    assert [e["name"] for e in get(api_client, "/api/events/")[0]["results"]] == ["Soon", "Later"]

    monkeypatch.setattr(timezone, "now", lambda: now + timedelta(seconds=31))

    body, _ = get(api_client, "/api/events/")
    assert [e["name"] for e in body["results"]] == ["Later"]
    assert body["count"] == 1


def test_each_page_time_zone_and_filter_is_its_own_entry(api_client, event_factory, in_days):
    for day in range(3):
        event_factory(name=f"E{day}", start_time=in_days(day + 1))

    first = get(api_client, "/api/events/", page_size=1)[0]
    second = get(api_client, "/api/events/", page_size=1, page=2)[0]
    kolkata = get(api_client, "/api/events/", page_size=1, tz="Asia/Kolkata")[0]
    searched = get(api_client, "/api/events/", search="E2")[0]

    assert first["results"][0]["name"] == "E0"
    assert second["results"][0]["name"] == "E1"
    assert kolkata["results"][0]["start_time"].endswith("+05:30")
    assert [e["name"] for e in searched["results"]] == ["E2"]


def test_a_cached_answer_carries_the_same_headers(api_client, event_factory):
    event = event_factory()
    path = f"/api/events/{event.pk}/"

    fresh = api_client.get(path)
    again = api_client.get(path)

    assert again.content == fresh.content
    assert dict(again.headers) == dict(fresh.headers)
    assert again["Content-Type"] == "application/json"
    assert again["X-Frame-Options"] == "DENY"


def test_errors_are_never_kept(api_client):
    missing = "/api/events/987654/"
    assert api_client.get(missing).status_code == 404
    api_client.get("/api/events/", {"tz": "Nowhere/Else"})
    assert not any("987654" in key or "Nowhere" in key for key in response_cache._entries)
