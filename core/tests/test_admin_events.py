"""The event admin as an organiser uses it: the list at a glance, and running one event."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.admin.events import fill_bar
from core.models import Attendee, Event
from core.services import Registration, register_attendee
from core.tests.admin_pages import (
    errors,
    event_form,
    messages,
    postgresql_only,
    refused_registrations,
    result_rows,
    seat_taken_after_the_check,
)
from core.tests.factories import UserFactory
from core.text import BLANK_TEXT_MESSAGE

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

EVENTS = "/admin/core/event/"


def change_url(event: Event) -> str:
    return f"{EVENTS}{event.pk}/change/"


def fill(event, count, attendee_factory):
    for _ in range(count):
        attendee_factory(event=event)


@pytest.mark.parametrize(
    ("taken", "capacity", "bar"),
    [
        (0, 5, "░░░░░░░░░░ 0%"),
        (7, 10, "███████░░░ 70%"),
        (1, 3, "███░░░░░░░ 33%"),
        (999, 1000, "█████████░ 99%"),
        (3, 3, "██████████ 100%"),
    ],
)
def test_fill_bar_reads_full_only_when_no_seat_is_left(taken, capacity, bar):
    assert fill_bar(taken, capacity) == bar


def test_list_shows_each_event_with_its_seats_at_a_glance(
    admin_client, event_factory, attendee_factory, in_days
):
    event = event_factory(
        name="Jazz Night",
        location="Blue Room",
        start_time=in_days(5),
        max_capacity=10,
        owner=UserFactory(username="nina"),
    )
    fill(event, 7, attendee_factory)

    [row] = result_rows(admin_client.get(EVENTS))

    start = row.pop("start_time")
    assert str(event.start_time.year) in start
    assert row == {
        "action-checkbox": "",
        "name": "Jazz Night",
        "location": "Blue Room",
        "timing": "upcoming",
        "status": "Scheduled",
        "max_capacity": "10",
        "attendee_count": "7",
        "waitlist_count": "0",
        "fill": "███████░░░ 70%",
        "owner": "nina",
    }


def test_list_shows_timing_soonest_first_and_filters_by_it(admin_client, event_factory, in_days):
    event_factory(name="Next week", start_time=in_days(7))
    event_factory(name="Right now", start_time=in_days(0, hours=-1))
    event_factory(name="Last month", start_time=in_days(-30))

    rows = result_rows(admin_client.get(EVENTS))
    past = result_rows(admin_client.get(EVENTS, {"timing": "past"}))
    now = result_rows(admin_client.get(EVENTS, {"timing": "in_progress"}))
    upcoming = result_rows(admin_client.get(EVENTS, {"timing": "upcoming"}))

    assert [(row["name"], row["timing"]) for row in rows] == [
        ("Last month", "past"),
        ("Right now", "in progress"),
        ("Next week", "upcoming"),
    ]
    assert [row["name"] for row in past + now + upcoming] == [
        "Last month",
        "Right now",
        "Next week",
    ]


def test_list_searches_name_and_location(admin_client, event_factory):
    event_factory(name="PyCon Lisbon", location="Centro de Congressos")
    event_factory(name="Django Meetup", location="Lisbon Hub")
    event_factory(name="RustConf", location="Portland")

    by_word = result_rows(admin_client.get(EVENTS, {"q": "lisbon"}))
    by_location = result_rows(admin_client.get(EVENTS, {"q": "portland"}))

    assert {row["name"] for row in by_word} == {"PyCon Lisbon", "Django Meetup"}
    assert [row["name"] for row in by_location] == ["RustConf"]


def test_list_narrows_by_start_date(admin_client, event_factory, in_days):
    # More than a year apart, so never in the same calendar year.
    event_factory(name="Soon", start_time=in_days(3))
    later = event_factory(name="Later", start_time=in_days(400))

    response = admin_client.get(EVENTS, {"start_time__year": later.start_time.year})

    assert [row["name"] for row in result_rows(response)] == ["Later"]


def test_list_costs_the_same_queries_for_1_and_30_events(
    admin_client, event_factory, attendee_factory, in_days
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(EVENTS)
        assert response.status_code == 200
        return len(captured)

    fill(event_factory(start_time=in_days(1), owner=UserFactory()), 2, attendee_factory)
    one = queries()
    for day in range(29):
        fill(event_factory(start_time=in_days(day + 40), owner=UserFactory()), 2, attendee_factory)
    thirty = queries()

    assert len(result_rows(admin_client.get(EVENTS))) == 30
    assert one == thirty


def test_event_page_lists_attendees_newest_last(admin_client, event_factory):
    event = event_factory()
    for name in ["Ada", "Grace", "Alan"]:
        register_attendee(event_id=event.pk, name=name, email=f"{name}@example.com")

    response = admin_client.get(change_url(event))

    content = response.content.decode()
    assert content.index("Ada@example.com") < content.index("Grace@example.com")
    assert content.index("Grace@example.com") < content.index("Alan@example.com")
    assert "3 of 100 taken" in content


def test_event_page_shows_the_owner_without_letting_it_be_changed(admin_client, event_factory):
    event = event_factory(owner=UserFactory(username="nina"))

    content = admin_client.get(change_url(event)).content.decode()

    owner_row = content[content.index("field-owner") :]
    assert re.search(r'<div class="readonly">(<a [^>]*>)?nina(</a>)?</div>', owner_row)
    assert 'name="owner"' not in content


def test_adding_an_event_creates_it_with_no_seats_taken(admin_client, in_days):
    start = in_days(10)
    event = Event(
        name="Launch", location="Dock 5", start_time=start, end_time=start, max_capacity=2
    )
    data = event_form(event, end_time=start + timedelta(hours=2))

    response = admin_client.post(f"{EVENTS}add/", data)

    assert response.status_code == 302, errors(response)
    event = Event.objects.get(name="Launch")
    assert (event.location, event.max_capacity, event.seats_taken) == ("Dock 5", 2, 0)
    assert event.owner.username == "admin"  # the staff member who added it


@pytest.mark.parametrize("field", ["name", "location"])
def test_an_event_text_of_invisible_characters_alone_is_refused(admin_client, event_factory, field):
    event = event_factory(name="Launch", location="Dock 5")

    response = admin_client.post(change_url(event), event_form(event, **{field: "\u200b\u202e"}))

    assert response.status_code == 200
    assert errors(response) == [BLANK_TEXT_MESSAGE]
    event.refresh_from_db()
    assert (event.name, event.location) == ("Launch", "Dock 5")


def test_a_row_named_with_invisible_characters_alone_is_refused(admin_client, event_factory):
    event = event_factory()

    response = admin_client.post(
        change_url(event), event_form(event, new=[("\ufeff\u2060", "ada@example.com")])
    )

    assert response.status_code == 200
    assert errors(response) == [BLANK_TEXT_MESSAGE]
    assert not event.attendees.exists()


def test_a_stored_row_named_before_the_rule_does_not_block_the_page(
    admin_client, event_factory, attendee_factory
):
    event = event_factory()
    attendee_factory(event=event, name="\u200b")

    response = admin_client.post(change_url(event), event_form(event, name="Renamed"))

    assert response.status_code == 302, errors(response)
    event.refresh_from_db()
    assert event.name == "Renamed"


def test_lowering_capacity_below_attendance_is_refused(
    admin_client, event_factory, attendee_factory
):
    event = event_factory(max_capacity=5)
    fill(event, 3, attendee_factory)

    response = admin_client.post(change_url(event), event_form(event, max_capacity=2))

    assert response.status_code == 200
    assert errors(response) == [
        "The capacity cannot be lower than the 3 attendees already registered."
    ]
    assert "3 of 5 taken" in response.content.decode()  # what is stored, not what was refused
    event.refresh_from_db()
    assert (event.max_capacity, event.seats_taken) == (5, 3)


def test_capacity_may_come_down_to_the_attendance(admin_client, event_factory, attendee_factory):
    event = event_factory(max_capacity=5)
    fill(event, 3, attendee_factory)

    response = admin_client.post(
        change_url(event), event_form(event, max_capacity=3, name="Renamed")
    )

    assert response.status_code == 302, errors(response)
    event.refresh_from_db()
    assert (event.name, event.max_capacity, event.seats_taken) == ("Renamed", 3, 3)


def test_capacity_refused_at_save_time_says_so_and_keeps_nothing(
    admin_client, event_factory, attendee_factory
):
    # The form checks capacity against the 2 attendees it loaded; the row added in the same
    # submission makes 3 before the save, so the service refuses the new capacity under lock.
    event = event_factory(max_capacity=5)
    fill(event, 2, attendee_factory)

    response = admin_client.post(
        change_url(event),
        event_form(event, max_capacity=2, new=[("Alan", "alan@example.com")]),
        follow=True,
    )

    assert response.redirect_chain == [(change_url(event), 302)]
    assert messages(response) == [
        "Nothing was saved: The capacity cannot be lower than the 3 attendees already registered."
    ]
    event.refresh_from_db()
    assert (event.max_capacity, event.seats_taken) == (5, 2)
    assert not Attendee.objects.filter(email="alan@example.com").exists()


def test_the_start_of_an_event_that_has_begun_stays(admin_client, event_factory, in_days):
    event = event_factory(start_time=in_days(0, hours=-1), end_time=in_days(1))

    response = admin_client.post(
        change_url(event),
        event_form(event, start_time=in_days(2), end_time=in_days(3)),
        follow=True,
    )

    assert messages(response) == [
        "Nothing was saved: This event has already started: its start time can no longer change."
    ]
    assert Event.objects.get(pk=event.pk).start_time == event.start_time


def test_an_event_that_has_begun_can_still_be_renamed(admin_client, event_factory, in_days):
    # Its start, shown to the second, goes back unchanged though stored to the microsecond.
    event = event_factory(start_time=in_days(0, hours=-1, microseconds=123), end_time=in_days(1))

    response = admin_client.post(change_url(event), event_form(event, name="Renamed"), follow=True)

    [saved] = messages(response)
    assert "was changed successfully" in saved
    stored = Event.objects.get(pk=event.pk)
    assert (stored.name, stored.start_time) == ("Renamed", event.start_time)


def test_a_row_added_on_the_event_page_is_a_registration(admin_client, event_factory):
    event = event_factory(max_capacity=2)

    response = admin_client.post(
        change_url(event), event_form(event, new=[("Ada", " Ada@Example.com ")])
    )

    assert response.status_code == 302, errors(response)
    event.refresh_from_db()
    assert event.seats_taken == 1
    assert list(event.attendees.values_list("name", "email")) == [("Ada", "Ada@example.com")]


@refused_registrations
def test_a_refused_row_shows_why_on_the_event_page(
    admin_client, event_factory, attendee_factory, in_days, capacity, start_in_days, email, refusal
):
    event = event_factory(max_capacity=capacity, start_time=in_days(start_in_days))
    attendee_factory(event=event, name="Ada", email="ada@example.com")

    response = admin_client.post(change_url(event), event_form(event, new=[("Grace", email)]))

    assert response.status_code == 200
    assert errors(response) == [refusal]
    event.refresh_from_db()
    assert event.seats_taken == event.attendees.count() == 1


def test_one_refused_row_keeps_the_rows_before_it_out_too(admin_client, event_factory):
    event = event_factory(max_capacity=1)

    response = admin_client.post(
        change_url(event),
        event_form(event, new=[("Ada", "ada@example.com"), ("Grace", "grace@example.com")]),
    )

    assert errors(response) == ["This event is full: every seat has been taken."]
    event.refresh_from_db()
    assert event.seats_taken == event.attendees.count() == 0


def writes(queries: CaptureQueriesContext) -> list[str]:
    """The statements that wrote, or locked rows to write them."""
    return [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].lstrip().split()[0].upper() in {"INSERT", "UPDATE", "DELETE"}
        or "FOR UPDATE" in query["sql"].upper()
    ]


@pytest.mark.parametrize(
    ("hours_long", "new", "refusal"),
    [
        (-1, [("Ada", "ada@example.com")], "The end time must be after the start time."),
        (
            3,
            [("Ada", "ada@example.com"), ("Grace", "grace@example.com")],
            "This event is full: every seat has been taken.",
        ),
    ],
    ids=["event-field-refused", "second-row-refused"],
)
def test_a_submission_shown_again_wrote_nothing_on_the_way(
    admin_client, event_factory, hours_long, new, refusal
):
    event = event_factory(max_capacity=1)
    data = event_form(event, new=new, end_time=event.start_time + timedelta(hours=hours_long))

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.post(change_url(event), data)

    assert response.status_code == 200
    assert errors(response) == [refusal]
    assert writes(queries) == []
    assert not Attendee.objects.exists()


def test_one_email_twice_in_one_submission_is_refused_on_the_second_row(
    admin_client, event_factory
):
    event = event_factory(max_capacity=5)

    response = admin_client.post(
        change_url(event),
        event_form(event, new=[("Ada", "ada@example.com"), ("Ada again", "ADA@example.com")]),
    )

    assert response.status_code == 200
    assert errors(response) == ["This email address is already registered for this event."]
    event.refresh_from_db()
    assert event.seats_taken == event.attendees.count() == 0


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_seat_taken_between_check_and_save_keeps_the_whole_submission_out(
    admin_client, event_factory, monkeypatch
):
    event = event_factory(name="Jazz Night", max_capacity=1)
    someone = seat_taken_after_the_check(monkeypatch, event)

    response = admin_client.post(
        change_url(event),
        event_form(event, name="Renamed", new=[("Grace", "grace@example.com")]),
        follow=True,
    )

    assert [type(result) for result in someone] == [Registration]  # the check had seen a seat free
    assert response.redirect_chain == [(change_url(event), 302)]
    assert messages(response) == [
        "Nothing was saved: This event is full: every seat has been taken."
    ]
    event.refresh_from_db()
    assert (event.name, event.seats_taken) == ("Jazz Night", 1)
    assert list(event.attendees.values_list("email", flat=True)) == ["else@example.com"]


def test_a_row_deleted_on_the_event_page_frees_its_seat(
    admin_client, event_factory, attendee_factory
):
    event = event_factory(max_capacity=2)
    ada, grace = attendee_factory(event=event), attendee_factory(event=event)

    response = admin_client.post(change_url(event), event_form(event, delete=[ada]))

    assert response.status_code == 302, errors(response)
    event.refresh_from_db()
    assert event.seats_taken == 1
    assert list(event.attendees.all()) == [grace]
    register_attendee(event_id=event.pk, name="Alan", email="alan@example.com")  # seat is back


def test_existing_rows_cannot_be_edited_from_the_event_page(
    admin_client, event_factory, attendee_factory
):
    event = event_factory()
    ada = attendee_factory(event=event, name="Ada", email="ada@example.com")
    data = event_form(event) | {"attendees-0-name": "Eve", "attendees-0-email": "eve@example.com"}

    admin_client.post(change_url(event), data)

    ada.refresh_from_db()
    assert (ada.name, ada.email) == ("Ada", "ada@example.com")


@pytest.fixture
def queue(event_factory):
    """An event of one seat (Ada's) with Grace, then Alan, waiting."""
    event = event_factory(max_capacity=1)
    for name in ["Ada", "Grace", "Alan"]:
        register_attendee(event_id=event.pk, name=name, email=f"{name}@example.com", waitlist=True)
    return event


def section(content: str, start: str, end: str) -> str:
    return content[content.index(start) : content.index(end)]


def test_event_page_shows_the_waiting_list_in_order(admin_client, queue):
    content = admin_client.get(change_url(queue)).content.decode()

    seats = section(content, 'id="attendees-group"', 'id="attendees-2-group"')
    waiting = content[content.index('id="attendees-2-group"') :]
    assert "Ada@example.com" in seats
    assert "Grace@example.com" not in seats
    assert waiting.index("Grace@example.com") < waiting.index("Alan@example.com")
    assert "Ada@example.com" not in waiting
    assert "1 of 1 taken" in content
    assert "2 waiting" in content


def test_freeing_a_seat_on_the_event_page_promotes_the_first_in_line(admin_client, queue):
    ada = queue.attendees.get(name="Ada")

    response = admin_client.post(change_url(queue), event_form(queue, delete=[ada]))

    assert response.status_code == 302, errors(response)
    assert list(queue.attendees.order_by("id").values_list("name", "status")) == [
        ("Grace", "registered"),
        ("Alan", "waitlisted"),
    ]


def test_a_raised_capacity_on_the_event_page_promotes(admin_client, queue):
    response = admin_client.post(change_url(queue), event_form(queue, max_capacity=3))

    assert response.status_code == 302, errors(response)
    queue.refresh_from_db()
    assert (queue.seats_taken, queue.waitlist_taken) == (3, 0)


def test_a_waiting_entry_removed_on_the_event_page_gives_up_its_place(admin_client, queue):
    grace = queue.attendees.get(name="Grace")

    response = admin_client.post(change_url(queue), event_form(queue, delete=[grace]))

    assert response.status_code == 302, errors(response)
    assert list(queue.attendees.order_by("id").values_list("name", "status")) == [
        ("Ada", "registered"),
        ("Alan", "waitlisted"),
    ]


def test_the_cancel_action_cancels_through_the_service(admin_client, event_factory, in_days):
    upcoming = event_factory(name="Upcoming")
    started = event_factory(name="Started", start_time=in_days(0, hours=-1))

    response = admin_client.post(
        EVENTS,
        {"action": "cancel_events", "_selected_action": [upcoming.pk, started.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert set(messages(response)) == {
        "Started: This event has already started: it can no longer be cancelled.",
        "Cancelled 1 event(s).",
    }
    upcoming.refresh_from_db()
    started.refresh_from_db()
    assert (upcoming.status, started.status) == ("cancelled", "scheduled")
    cancelled = result_rows(admin_client.get(EVENTS, {"status__exact": "cancelled"}))
    assert [(row["name"], row["status"]) for row in cancelled] == [("Upcoming", "Cancelled")]


def test_a_cancelled_event_is_shown_but_never_changed(admin_client, event_factory):
    event = event_factory(name="Called Off", status="cancelled")

    page = admin_client.get(change_url(event))
    response = admin_client.post(change_url(event), event_form(event, name="Back On"))

    assert page.status_code == 200
    assert 'name="name"' not in page.content.decode()
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.name == "Called Off"
