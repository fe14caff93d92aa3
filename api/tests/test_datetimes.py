"""One rule for a datetime the API reads: in a body and in a query string, the same answers."""

from datetime import UTC, datetime

import pytest

from api.datetimes import MESSAGES

pytestmark = pytest.mark.django_db


def create_starting(client, start_time: str):
    payload = {
        "name": "Launch",
        "location": "Dock 5",
        "start_time": start_time,
        "end_time": "2031-03-15T12:00:00Z",
        "max_capacity": 5,
    }
    return client.post("/api/events/", payload, format="json")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("tomorrow", "invalid"),
        ("2031-02-30T09:00:00Z", "invalid"),  # well-formed, but no such day
        ("2031-03-15T12:99:00Z", "invalid"),
        ("2031-03-15T09:00:00+25:00", "invalid"),
        ("2031-03-15T09:00:00", "naive"),
        ("0001-01-01T00:00:00+05:00", "out_of_range"),  # before year 1 in UTC
        ("0001-01-01T12:00:00Z", "out_of_range"),  # a real instant, too close to the edge
        ("9999-12-31T20:00:00Z", "out_of_range"),
        ("9999-12-31T23:00:00-05:00", "out_of_range"),  # after year 9999 in UTC
    ],
)
def test_a_datetime_is_refused_alike_in_a_body_and_in_a_query_string(api_client, text, code):
    body = create_starting(api_client, text)
    query = api_client.get("/api/events/", {"starts_before": text})

    assert (body.status_code, query.status_code) == (400, 400)
    assert body.json()["errors"] == {"start_time": [MESSAGES[code]]}
    assert query.json()["errors"] == {"starts_before": [MESSAGES[code]]}


@pytest.mark.parametrize(
    "text", ["2031-03-15T09:00:00Z", "2031-03-15T14:30:00+05:30", "2031-03-15 04:00:00-05:00"]
)
def test_a_datetime_is_read_alike_in_a_body_and_in_a_query_string(api_client, event_factory, text):
    event_factory(name="Just before", start_time=datetime(2031, 3, 15, 8, 59, tzinfo=UTC))
    event_factory(name="Just after", start_time=datetime(2031, 3, 15, 9, 1, tzinfo=UTC))

    created = create_starting(api_client, text)
    after = api_client.get("/api/events/", {"starts_after": text})
    before = api_client.get("/api/events/", {"starts_before": text})

    assert created.status_code == 201, created.content
    assert created.json()["start_time"] == "2031-03-15T09:00:00Z"
    assert [event["name"] for event in after.json()["results"]] == ["Just after"]
    assert [event["name"] for event in before.json()["results"]] == ["Just before"]
