"""An organiser's own events: GET /api/me/events/."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db

MINE = "/api/me/events/"


@pytest.fixture
def owner(organiser_factory):
    return organiser_factory(username="owner")


def test_lists_the_callers_events_past_ones_too_soonest_first(
    owner, token_client, organiser_factory, event_factory, in_days
):
    later = event_factory(owner=owner, name="Later", start_time=in_days(9))
    past = event_factory(owner=owner, name="Past", start_time=in_days(-9))
    sooner = event_factory(owner=owner, name="Sooner", start_time=in_days(2))
    event_factory(owner=organiser_factory(), name="Someone else's", start_time=in_days(3))
    event_factory(owner=None, name="Nobody's", start_time=in_days(4))

    body = token_client(owner).get(MINE).json()

    assert body["count"] == 3
    assert [event["id"] for event in body["results"]] == [past.pk, sooner.pk, later.pk]
    assert set(body["results"][0]) == {
        "id", "name", "location", "start_time", "end_time", "max_capacity", "status",
        "attendee_count", "seats_available", "waitlist_count", "requires_approval",
    }  # fmt: skip


def test_staff_see_their_own_events_only(owner, token_client, staff_factory, event_factory):
    event_factory(owner=owner)

    body = token_client(staff_factory()).get(MINE).json()

    assert (body["count"], body["results"]) == (0, [])


def test_pages_like_the_event_list(owner, token_client, event_factory, in_days):
    for day in range(25):
        event_factory(owner=owner, start_time=in_days(day + 1))
    client = token_client(owner)

    first = client.get(MINE).json()
    second = client.get(MINE, {"page": 2, "page_size": 20}).json()

    assert (first["count"], len(first["results"]), len(second["results"])) == (25, 20, 5)
    assert first["next"].endswith("/api/me/events/?page=2")
    bad = client.get(MINE, {"page_size": "0"})
    assert (bad.status_code, list(bad.json()["errors"])) == (400, ["page_size"])


@pytest.mark.parametrize("rows", [1, 50])
def test_costs_the_same_queries_for_1_and_50_events(
    owner, token_client, event_factory, in_days, rows
):
    for day in range(rows):
        event_factory(owner=owner, start_time=in_days(day + 1))
    client = token_client(owner)

    with CaptureQueriesContext(connection) as queries:
        body = client.get(MINE, {"page_size": 100}).json()

    assert body["count"] == rows
    # The token and its user, the user's other tokens (expired ones are cleared), the user's
    # permissions and its groups' permissions, then the count and the page.
    assert len(queries) == 6, [query["sql"] for query in queries]
