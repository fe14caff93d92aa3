"""N+1 guards: each endpoint costs a fixed number of queries, whatever the data holds."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def count_queries(client, method, path, **kwargs):
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(path, **kwargs)
    assert response.status_code < 300, response.content
    return len(queries)


@pytest.mark.parametrize("rows", [1, 50])
def test_event_list_costs_one_query(
    api_client, event_factory, in_days, rows, django_assert_num_queries
):
    for day in range(rows):
        event_factory(start_time=in_days(day + 1))
    with django_assert_num_queries(1):  # the page, with the total count riding along
        body = api_client.get("/api/events/", {"page_size": 100}).json()
    assert body["count"] == rows


def test_event_detail_costs_one_query(api_client, event_factory, django_assert_num_queries):
    event = event_factory()
    with django_assert_num_queries(1):
        api_client.get(f"/api/events/{event.pk}/")


@pytest.mark.parametrize("rows", [1, 50])
def test_attendee_list_costs_two_queries(
    api_client, event_factory, attendee_factory, rows, django_assert_num_queries
):
    event = event_factory()
    for _ in range(rows):
        attendee_factory(event=event)
    with django_assert_num_queries(2):  # the event exists; the page with its count
        body = api_client.get(f"/api/events/{event.pk}/attendees/", {"page_size": 100}).json()
    assert body["count"] == rows


def test_empty_list_counts_zero_in_two_queries(api_client, django_assert_num_queries):
    with django_assert_num_queries(2):  # an empty page carries no count, so count apart
        body = api_client.get("/api/events/").json()
    assert (body["count"], body["results"]) == (0, [])


def register(client, event_id, email):
    return count_queries(
        client, "post", f"/api/events/{event_id}/register/",
        data={"name": "Ada", "email": email}, format="json",
    )  # fmt: skip


def test_registration_cost_does_not_grow_with_attendees(
    api_client, event_factory, attendee_factory
):
    event = event_factory(max_capacity=1000)
    first = register(api_client, event.pk, "first@example.com")
    for _ in range(200):
        attendee_factory(event=event)
    later = register(api_client, event.pk, "later@example.com")

    # savepoint, lock the event row, insert the attendee (its trigger takes the seat), release
    assert first == later == 4
