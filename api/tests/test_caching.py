"""Event reads are reused while nothing changes, and never outlive a committed change.

The response cache is on (as by default) and needs change versions, which PostgreSQL keeps;
on SQLite these tests skip, and every answer there is computed afresh.
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from api.caching import response_cache
from api.tokens import issue_token
from core.models import Attendee, Event
from core.services import cancel_event, register_attendee, remove_attendee, update_event
from core.versions import SUM_OF

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="change versions are kept on PostgreSQL only"
    ),
    pytest.mark.usefixtures("fast_passwords"),
]


def get(client, path, **params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, params)
    assert response.status_code == 200, response.content
    return response.json(), [query["sql"] for query in queries]


def reads_versions(sql: str) -> bool:
    """Whether `sql` is the cache's read of change versions (core/versions.py), not a row read
    that names the column among the event's others."""
    return "change_version FROM core_event WHERE" in sql or "core_event_catalog" in sql


def hit(client, path, **params) -> dict:
    """The answer to a GET that must come from the cache: one query, the versions' read."""
    body, queries = get(client, path, **params)
    assert len(queries) == 1, queries
    assert reads_versions(queries[0])
    return body


def test_repeated_reads_are_served_from_the_cache(api_client, event_factory):
    event = event_factory()
    for path in ("/api/events/", f"/api/events/{event.pk}/", f"/api/events/{event.pk}/attendees/"):
        first, _ = get(api_client, path)
        assert hit(api_client, path) == first


def test_an_erased_registration_leaves_the_kept_attendee_list(api_client, event_factory):
    event = event_factory()
    response = api_client.post(
        f"/api/events/{event.pk}/register/", {"name": "Ada", "email": "a@x.io"}, format="json"
    )
    path = f"/api/events/{event.pk}/attendees/"
    get(api_client, path)
    assert hit(api_client, path)["results"][0]["email"] == "a@x.io"

    erased = api_client.delete(f"/api/registrations/{response.json()['token']}/?erase=true")

    assert erased.status_code == 204
    assert get(api_client, path)[0]["results"] == []


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


class Reads:
    """An event's three cached reads, warmed, then read again after each write."""

    def __init__(self, client, event):
        self.client, self.event = client, event
        self.paths = {
            "detail": f"/api/events/{event.pk}/",
            "list": "/api/events/",
            "attendees": f"/api/events/{event.pk}/attendees/",
        }
        self.warm()

    def warm(self):
        for path in self.paths.values():
            get(self.client, path)
            hit(self.client, path)

    def detail(self):
        return get(self.client, self.paths["detail"])[0]

    def listed(self):
        return get(self.client, self.paths["list"])[0]

    def attendee_names(self):
        return [a["name"] for a in get(self.client, self.paths["attendees"])[0]["results"]]


@pytest.fixture
def reads(api_client, event_factory, in_days):
    return Reads(api_client, event_factory(name="Before", start_time=in_days(3), max_capacity=9))


def test_save_and_delete_are_seen(reads, attendee_factory):
    event = reads.event
    event.name = "Saved"
    event.save()
    assert reads.detail()["name"] == reads.listed()["results"][0]["name"] == "Saved"

    reads.warm()
    attendee = attendee_factory(event=event, name="Ada")
    assert reads.attendee_names() == ["Ada"]
    assert reads.detail()["attendee_count"] == 1

    reads.warm()
    attendee.delete()
    assert reads.attendee_names() == []
    assert reads.listed()["results"][0]["attendee_count"] == 0

    reads.warm()
    event.delete()
    assert reads.client.get(reads.paths["detail"]).status_code == 404
    assert reads.listed()["count"] == 0


def test_queryset_update_and_delete_are_seen(reads, attendee_factory):
    Event.objects.filter(pk=reads.event.pk).update(name="Updated")
    assert reads.detail()["name"] == reads.listed()["results"][0]["name"] == "Updated"

    attendee_factory(event=reads.event)
    reads.warm()
    Attendee.objects.filter(event=reads.event).update(name="Renamed in place")
    assert reads.attendee_names() == ["Renamed in place"]

    reads.warm()
    Attendee.objects.filter(event=reads.event).delete()
    assert reads.attendee_names() == []
    assert reads.detail()["attendee_count"] == 0

    reads.warm()
    Event.objects.filter(pk=reads.event.pk).delete()
    assert reads.listed()["count"] == 0


def test_bulk_create_and_bulk_update_are_seen(reads, in_days):
    Attendee.objects.bulk_create(
        [Attendee(event=reads.event, name=f"A{i}", email=f"a{i}@x.io") for i in range(5)]
    )
    assert reads.detail()["attendee_count"] == 5
    assert reads.attendee_names() == [f"A{i}" for i in range(5)]

    reads.warm()
    Event.objects.bulk_create(
        [Event(name="Sooner", location="Hall", start_time=in_days(1), end_time=in_days(2),
               max_capacity=5)]
    )  # fmt: skip
    assert [e["name"] for e in reads.listed()["results"]] == ["Sooner", "Before"]

    reads.warm()
    event = Event.objects.get(pk=reads.event.pk)
    event.location = "Bulk-updated hall"
    Event.objects.bulk_update([event], ["location"])
    assert reads.detail()["location"] == "Bulk-updated hall"


def test_raw_sql_is_seen_at_once(reads, attendee_factory):
    attendee_factory(event=reads.event, name="Ada")
    reads.warm()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_event SET name = 'Raw' WHERE id = %s", [reads.event.pk])
        cursor.execute("UPDATE core_attendee SET name = 'Raw Ada' WHERE event_id = %s",
                       [reads.event.pk])  # fmt: skip
    assert reads.detail()["name"] == reads.listed()["results"][0]["name"] == "Raw"
    assert reads.attendee_names() == ["Raw Ada"]

    reads.warm()
    with connection.cursor() as cursor:
        # As psql would run it, with no foreign-key check still pending in the transaction.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE core_attendee")
    assert reads.attendee_names() == []
    assert reads.detail()["attendee_count"] == 0


def test_services_are_seen(reads):
    event = reads.event
    fields = {k: getattr(event, k) for k in ("location", "start_time", "end_time")}
    update_event(event_id=event.pk, name="Renamed", max_capacity=5, **fields)
    assert reads.detail()["name"] == "Renamed"

    reads.warm()
    attendee = register_attendee(event_id=event.pk, name="Ada", email="a@x.io").attendee
    assert reads.detail()["attendee_count"] == 1

    reads.warm()
    remove_attendee(event_id=event.pk, attendee_id=attendee.pk)
    assert reads.attendee_names() == []
    assert reads.listed()["results"][0]["attendee_count"] == 0


def test_admin_changes_and_actions_are_seen(reads, admin_client, attendee_factory):
    ada = attendee_factory(event=reads.event, name="Ada")
    reads.warm()
    response = admin_client.post(
        f"/admin/core/attendee/{ada.pk}/change/", {"name": "Ada L.", "email": ada.email}
    )
    assert response.status_code == 302
    assert reads.attendee_names() == ["Ada L."]

    reads.warm()
    response = admin_client.post(
        "/admin/core/attendee/",
        {"action": "delete_selected", "_selected_action": [ada.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert reads.attendee_names() == []

    reads.warm()
    response = admin_client.post(
        "/admin/core/event/",
        {"action": "delete_selected", "_selected_action": [reads.event.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert reads.listed()["count"] == 0


def test_the_loader_is_seen(reads, tmp_path):
    (tmp_path / "e.csv").write_text(
        "key,name,location,start_time,end_time,max_capacity\n"
        "k,Loaded,Hall,2031-05-01T09:00:00Z,2031-05-01T17:00:00Z,5\n"
    )
    (tmp_path / "a.csv").write_text("event_key,name,email\nk,Ada,ada@x.io\n")

    call_command(
        "load_sample_data", "--events", tmp_path / "e.csv", "--attendees", tmp_path / "a.csv"
    )

    listed = reads.listed()
    assert [(e["name"], e["attendee_count"]) for e in listed["results"]] == [("Loaded", 1)]
    assert reads.client.get(reads.paths["detail"]).status_code == 404


def test_a_data_migration_is_seen(reads):
    """A data migration writes through historical models, which know nothing of the cache."""
    historical = MigrationExecutor(connection).loader.project_state().apps
    historical.get_model("core", "Event").objects.update(location="Migrated")

    assert reads.detail()["location"] == reads.listed()["results"][0]["location"] == "Migrated"


def test_a_registration_elsewhere_keeps_the_list_page_cached(api_client, event_factory, in_days):
    shown = event_factory(start_time=in_days(1), max_capacity=5)
    elsewhere = event_factory(start_time=in_days(5), max_capacity=5)
    first, _ = get(api_client, "/api/events/", page_size=1)

    register_attendee(event_id=elsewhere.pk, name="Ada", email="a@x.io")
    assert hit(api_client, "/api/events/", page_size=1) == first

    register_attendee(event_id=shown.pk, name="Grace", email="g@x.io")
    recomputed, queries = get(api_client, "/api/events/", page_size=1)
    assert recomputed["results"][0]["attendee_count"] == 1
    assert recomputed["count"] == 2
    # Seats moved, not which events are upcoming: the count is not taken again.
    assert not any("COUNT(" in sql.upper() for sql in queries), queries


def test_a_new_event_recounts_the_list(api_client, event_factory, in_days):
    event_factory(start_time=in_days(1))
    assert get(api_client, "/api/events/", page_size=1)[0]["count"] == 1

    event_factory(start_time=in_days(9))  # on page 2: page 1's rows are unchanged

    assert get(api_client, "/api/events/", page_size=1)[0]["count"] == 2


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
    assert (first["count"], searched["count"]) == (3, 1)


def test_a_cached_answer_carries_the_same_headers(api_client, event_factory):
    event = event_factory()
    path = f"/api/events/{event.pk}/"

    fresh = api_client.get(path)
    again = api_client.get(path)

    def kept(headers) -> dict:
        return {name: value for name, value in headers.items() if name != "X-Request-ID"}

    assert again.content == fresh.content
    # Every header is the stored one, but the request id: each answer carries its own.
    assert kept(again.headers) == kept(fresh.headers)
    assert again["X-Request-ID"] != fresh["X-Request-ID"]
    assert again["Content-Type"] == "application/json"
    assert again["X-Frame-Options"] == "DENY"


def test_errors_are_never_kept(api_client):
    missing = "/api/events/987654/"
    assert api_client.get(missing).status_code == 404
    api_client.get("/api/events/", {"tz": "Nowhere/Else"})
    assert not any("987654" in key or "Nowhere" in key for key in response_cache.keys())


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(username="staff", is_staff=True)


@pytest.mark.parametrize("principal", ["token", "session"])
def test_an_answer_for_a_principal_is_never_kept_or_served_from_the_cache(
    api_client, event_factory, staff, principal
):
    event = event_factory()
    path = f"/api/events/{event.pk}/attendees/"
    if principal == "token":
        token = issue_token(user=staff).token
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    else:
        api_client.force_login(staff)
    anonymous = APIClient()

    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            response = api_client.get(path)
        assert response.status_code == 200
        assert not any(reads_versions(query["sql"]) for query in queries)
    assert response_cache.keys() == []

    get(anonymous, path)  # anonymous, with open access on: kept
    assert hit(anonymous, path)["count"] == 0
    with CaptureQueriesContext(connection) as queries:
        api_client.get(path)  # a principal never gets the anonymous answer
    assert not any(reads_versions(query["sql"]) for query in queries)


def test_a_hit_reads_each_events_version_by_its_key_whatever_the_statistics(event_factory):
    """The versions' read must not become a scan of the events table: without fresh statistics
    (a bulk load not yet analysed) a generic plan chose one, and every hit read the table."""
    ids = "{" + ",".join(str(event_factory().pk) for _ in range(20)) + "}"
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        statement = SUM_OF.replace("%s", "$1")
        cursor.execute(
            f"PREPARE newest(text) AS SELECT version, ({statement}) FROM core_event_catalog"
        )
        cursor.execute(f"EXPLAIN EXECUTE newest('{ids}')")  # digits and commas only
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE newest")

    assert "Index Scan using core_event_pkey" in plan, plan
    assert "Seq Scan on core_event " not in plan, plan


def test_a_cancelled_event_leaves_a_cached_list_at_once(api_client, event_factory, in_days):
    """The page shows another event: only the catalog's version can tell it the list changed."""
    event_factory(name="Shown", start_time=in_days(1))
    cancelled = event_factory(name="Cancelled", start_time=in_days(5))
    first, _ = get(api_client, "/api/events/", page_size=1)
    assert (first["count"], first["next"] is not None) == (2, True)
    assert hit(api_client, "/api/events/", page_size=1) == first
    get(api_client, "/api/events/", page_size=1, page=2)

    cancel_event(event_id=cancelled.pk)

    after, _ = get(api_client, "/api/events/", page_size=1)
    assert (after["count"], after["next"]) == (1, None)
    second_page = api_client.get("/api/events/", {"page_size": 1, "page": 2})
    assert second_page.status_code == 404


def test_a_waiting_list_page_never_outlives_a_change(api_client, event_factory):
    event = event_factory(max_capacity=1)
    register_attendee(event_id=event.pk, name="Ada", email="a@x.io")
    path = f"/api/events/{event.pk}/waitlist/"
    assert get(api_client, path)[0]["count"] == 0
    hit(api_client, path)

    grace = register_attendee(event_id=event.pk, name="Grace", email="g@x.io", waitlist=True)
    assert [row["name"] for row in get(api_client, path)[0]["results"]] == ["Grace"]
    hit(api_client, path)

    update_event(event_id=event.pk, max_capacity=2)  # Grace is promoted
    assert get(api_client, path)[0]["results"] == []
    assert grace.attendee.pk in [
        row["id"] for row in get(api_client, f"/api/events/{event.pk}/attendees/")[0]["results"]
    ]


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_after_a_newer_one_is_not_hidden_from_a_cached_page(
    api_client, event_factory, in_days
):
    """Versions are numbered when written and seen when committed: here the first event's
    change takes its number before the second's, and commits after the page was cached."""
    first = event_factory(name="First", start_time=in_days(1))
    second = event_factory(name="Second", start_time=in_days(2))
    early, late = connections.create_connection("default"), connections.create_connection("default")
    try:
        early.set_autocommit(False)
        with early.cursor() as cursor:  # numbered first, committed last
            cursor.execute("UPDATE core_event SET max_capacity = 77 WHERE id = %s", [first.pk])
        with late.cursor() as cursor:  # numbered later, committed at once
            cursor.execute("UPDATE core_event SET max_capacity = 88 WHERE id = %s", [second.pk])
        cached, _ = get(api_client, "/api/events/")
        assert [row["max_capacity"] for row in cached["results"]] == [first.max_capacity, 88]
        early.commit()
    finally:
        early.close()
        late.close()

    after, _ = get(api_client, "/api/events/")
    assert [row["max_capacity"] for row in after["results"]] == [77, 88]
