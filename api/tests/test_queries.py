"""N+1 guards: each endpoint costs a fixed number of queries, whatever the data holds."""

import pytest
from django.db import connection, connections, reset_queries
from django.test.utils import CaptureQueriesContext

from core.models import Event
from core.services import register_attendee

pytestmark = pytest.mark.django_db


def count_queries(client, method, path, **kwargs):
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(path, **kwargs)
    assert response.status_code < 300, response.content
    return len(queries)


@pytest.fixture
def computed(settings):
    """Every answer computed afresh, as on a miss of the response cache."""
    settings.API_RESPONSE_CACHE = False


@pytest.mark.usefixtures("computed")
@pytest.mark.parametrize("rows", [1, 50])
def test_event_list_costs_two_queries(
    api_client, event_factory, in_days, rows, django_assert_num_queries
):
    for day in range(rows):
        event_factory(start_time=in_days(day + 1))
    with django_assert_num_queries(2):  # the count, then the page
        body = api_client.get("/api/events/", {"page_size": 100}).json()
    assert body["count"] == rows


@pytest.mark.usefixtures("computed")
def test_event_detail_costs_one_query(api_client, event_factory, django_assert_num_queries):
    event = event_factory()
    with django_assert_num_queries(1):
        api_client.get(f"/api/events/{event.pk}/")


@pytest.mark.usefixtures("computed")
@pytest.mark.parametrize("rows", [1, 50])
def test_attendee_list_costs_two_queries_and_never_counts_rows(
    api_client, event_factory, attendee_factory, rows
):
    event = event_factory()
    for _ in range(rows):
        attendee_factory(event=event)
    with CaptureQueriesContext(connection) as queries:
        body = api_client.get(f"/api/events/{event.pk}/attendees/", {"page_size": 100}).json()
    assert body["count"] == rows
    # The event's seat counter says how many attendees there are; then the page.
    assert len(queries) == 2
    assert not any("COUNT(" in query["sql"].upper() for query in queries)


@pytest.mark.usefixtures("computed")
@pytest.mark.parametrize("rows", [1, 50])
def test_waiting_list_costs_two_queries_and_never_counts_rows(
    api_client, event_factory, attendee_factory, rows
):
    event = event_factory(max_capacity=1)
    attendee_factory(event=event)
    for _ in range(rows):
        attendee_factory(event=event, status="waitlisted")
    with CaptureQueriesContext(connection) as queries:
        body = api_client.get(f"/api/events/{event.pk}/waitlist/", {"page_size": 100}).json()
    assert body["count"] == len(body["results"]) == rows
    assert len(queries) == 2
    assert not any("COUNT(" in query["sql"].upper() for query in queries)


@pytest.mark.parametrize("waiting", [1, 50])
def test_reading_a_registration_by_token_costs_at_most_two_queries(
    api_client, event_factory, waiting, django_assert_max_num_queries
):
    event = event_factory(max_capacity=1)
    register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    for i in range(waiting):
        last = register_attendee(
            event_id=event.pk, name="W", email=f"w{i}@example.com", waitlist=True
        )
    with django_assert_max_num_queries(2):  # the row, then its place in the queue
        body = api_client.get(f"/api/registrations/{last.token}/").json()
    assert body["position"] == waiting


@pytest.mark.usefixtures("computed")
def test_empty_list_costs_one_query(api_client, django_assert_num_queries):
    with django_assert_num_queries(1):  # a count of zero leaves no page to read
        body = api_client.get("/api/events/").json()
    assert (body["count"], body["results"]) == (0, [])


@pytest.mark.usefixtures("computed")
@pytest.mark.parametrize("path", ["/api/events/", "/api/events/{id}/attendees/"])
def test_a_page_past_the_end_is_refused_before_any_row_is_read(
    api_client, event_factory, attendee_factory, path
):
    event = event_factory()
    attendee_factory(event=event)
    path = path.format(id=event.pk)
    for page in ("2", "4611686018427387904", "9" * 4000):
        with CaptureQueriesContext(connection) as queries:
            response = api_client.get(path, {"page": page})
        assert response.status_code == 404, (page, response.content)
        assert response.json()["code"] == "not_found"
        # Only the count is read: no OFFSET of 2^62 rows is ever sent to the database.
        assert not any("OFFSET" in query["sql"] for query in queries), queries


def register(client, event_id, email, waitlist=False):
    return count_queries(
        client, "post", f"/api/events/{event_id}/register/",
        data={"name": "Ada", "email": email, "waitlist": waitlist}, format="json",
    )  # fmt: skip


@pytest.mark.parametrize("waitlist", [False, True])
def test_registration_cost_does_not_grow_with_attendees(
    api_client, event_factory, attendee_factory, waitlist
):
    # Full with a waiting list: the repeat check reads the event's rows, by its index.
    event = event_factory(max_capacity=1 if waitlist else 1000)
    first = register(api_client, event.pk, "first@example.com")
    for _ in range(200):
        attendee_factory(event=event, status="waitlisted" if waitlist else "registered")
    later = register(api_client, event.pk, "later@example.com", waitlist=waitlist)

    if connection.vendor == "postgresql":
        # core/sql/registration.py's function, whatever the event holds
        assert first == later == 1
    else:
        # savepoint, lock the event row, (full: is the email there already?), insert the
        # attendee (its trigger takes the place), insert the email's outbox row, release
        assert first == 5
        assert later == (6 if waitlist else 5)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL registers in one statement")
def test_registration_queues_its_email_with_one_insert_and_nothing_else(api_client, event_factory):
    event = event_factory()
    with CaptureQueriesContext(connection) as queries:
        response = api_client.post(
            f"/api/events/{event.pk}/register/",
            data={"name": "Ada", "email": "ada@example.com"},
            format="json",
        )
    assert response.status_code == 201, response.content
    statements = [query["sql"].split("(")[0].replace('"', "").split() for query in queries]
    writes = [words[:3] for words in statements if words[0] == "INSERT"]
    # The email is neither rendered nor sent here: no read beyond the event's lock, and the
    # only writes are the registration and its outbox row, which is the worker's queue.
    assert writes == [
        ["INSERT", "INTO", "core_attendee"],
        ["INSERT", "INTO", "core_outgoingmessage"],
    ]
    assert sum(words[0] == "SELECT" for words in statements) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one statement is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_a_registration_is_one_statement_that_commits_itself(api_client, event_factory):
    event = event_factory()
    with CaptureQueriesContext(connection) as queries:
        response = api_client.post(
            f"/api/events/{event.pk}/register/",
            data={"name": "Ada", "email": "ada@example.com"},
            format="json",
        )
    assert response.status_code == 201, response.content
    (statement,) = [query["sql"] for query in queries]
    assert statement.startswith("SELECT * FROM core_register_attendee(")
    # No transaction around it: the statement's own commit made both rows visible to all.
    with connections.create_connection("default").cursor() as other:
        other.execute(
            "SELECT (SELECT count(*) FROM core_attendee WHERE event_id = %s),"
            " (SELECT count(*) FROM core_outgoingmessage WHERE event_id = %s AND kind = %s)",
            [event.pk, event.pk, "registered"],
        )
        assert other.fetchone() == (1, 1)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one statement is PostgreSQL's")
def test_debug_s_query_log_keeps_no_copy_of_a_registration(api_client, event_factory, settings):
    """Development's query log (DEBUG) renders each statement it keeps with its parameters: the
    registration's one statement, sent on every registration, is left out of it, with the name
    and address it carries."""
    settings.DEBUG = True
    event = event_factory()
    reset_queries()
    response = api_client.post(
        f"/api/events/{event.pk}/register/",
        data={"name": "Ada", "email": "ada@example.com"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert connection.queries_logged
    assert not any("ada@example.com" in query["sql"] for query in connection.queries)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_the_upcoming_list_reads_an_index_before_the_table_has_statistics(api_client, in_days):
    # A catalogue just loaded and not yet analysed (autovacuum not come by, or turned off): the
    # planner guesses a handful of upcoming rows. The page and the next start, read on every
    # miss of the list's cache, must still walk an index to their rows, not scan and sort every
    # event. (The count, kept until the catalog changes, may read the whole table.)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'core_event'")
        if cursor.fetchone()[0]:
            pytest.skip("core_event was analysed already: the planner's guess does not arise")
    Event.objects.bulk_create(
        Event(
            name=f"Event {number}",
            location="Hall",
            start_time=in_days(1 + number % 700, minutes=number),
            end_time=in_days(1 + number % 700, minutes=number, hours=3),
            max_capacity=100,
        )
        for number in range(5000)
    )
    with CaptureQueriesContext(connection) as queries:
        response = api_client.get("/api/events/")
    assert response.status_code == 200
    assert response.json()["count"] == 5000
    reading_events = [
        query["sql"]
        for query in queries
        if '"core_event"' in query["sql"] and not query["sql"].startswith("SELECT COUNT(*)")
    ]
    assert len(reading_events) == 2  # the next start (then kept at the catalog's version), the page
    with connection.cursor() as cursor:
        for statement in reading_events:
            cursor.execute(f"EXPLAIN {statement}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Seq Scan on core_event" not in plan, f"{statement}\n{plan}"
