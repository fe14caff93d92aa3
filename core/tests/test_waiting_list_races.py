"""The waiting list under real races: threads calling the services, and gunicorn's 4 worker
processes answering HTTP, on the test database (SQLite or PostgreSQL)."""

from collections import Counter
from dataclasses import dataclass

import pytest

from api.tokens import issue_token
from core.exceptions import DomainError
from core.models import Attendee, Event
from core.services import cancel_registration_by_token, register_attendee, update_event
from core.tests.racing import race
from testing.servers import send_json

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]

CAPACITY = 10


class Services:
    """Each racer calls core.services in its own thread, on its own connection."""

    def register(self, event_id: int, email: str, *, waitlist: bool) -> str:
        try:
            registration = register_attendee(
                event_id=event_id, name="Racer", email=email, waitlist=waitlist
            )
        except DomainError as error:
            return error.code
        return "waitlisted" if registration.waitlisted else "registered"

    def cancel(self, token: str) -> str:
        try:
            cancel_registration_by_token(token=token)
        except DomainError as error:
            return error.code
        return "cancelled"

    def set_capacity(self, event_id: int, capacity: int) -> str:
        try:
            update_event(event_id=event_id, max_capacity=capacity)
        except DomainError as error:
            return error.code
        return "capacity_changed"


@dataclass
class OverHttp:
    """Each racer sends a request to gunicorn, whose 4 worker processes answer them."""

    url: str
    organiser_token: str

    def register(self, event_id: int, email: str, *, waitlist: bool) -> str:
        body = {"name": "Racer", "email": email, "waitlist": waitlist}
        status, answer = send_json("POST", f"{self.url}/api/events/{event_id}/register/", body)
        return {201: "registered", 202: "waitlisted"}.get(status) or http_refusal(status, answer)

    def cancel(self, token: str) -> str:
        status, answer = send_json("DELETE", f"{self.url}/api/registrations/{token}/")
        return "cancelled" if status == 204 else http_refusal(status, answer)

    def set_capacity(self, event_id: int, capacity: int) -> str:
        status, answer = send_json(
            "PATCH",
            f"{self.url}/api/events/{event_id}/",
            {"max_capacity": capacity},
            headers={"Authorization": f"Bearer {self.organiser_token}"},
        )
        return "capacity_changed" if status == 200 else http_refusal(status, answer)


def http_refusal(status: int, answer: dict | None) -> str:
    code = (answer or {}).get("code")
    return code if status in (404, 409) and code else f"{status} {answer}"


@pytest.fixture(params=["threads", "gunicorn"])
def racers(request, organiser_factory):
    """The racers' way in, and the organiser who owns the raced event."""
    organiser = organiser_factory(username="racing-organiser")
    if request.param == "threads":
        return Services(), organiser
    url = request.getfixturevalue("gunicorn_server")
    return OverHttp(url, issue_token(user=organiser).token), organiser


@pytest.fixture
def full_with_queue(racers, event_factory):
    """A full event of CAPACITY seats and 8 waiting; the seats' and the queue's tokens, in order."""
    _, organiser = racers
    event = event_factory(max_capacity=CAPACITY, owner=organiser)
    seats = [
        register_attendee(event_id=event.pk, name="Seated", email=f"s{i}@example.com")
        for i in range(CAPACITY)
    ]
    queue = [
        register_attendee(
            event_id=event.pk, name="Waiting", email=f"w{i}@example.com", waitlist=True
        )
        for i in range(8)
    ]
    assert [place.position for place in queue] == list(range(1, 9))
    return event, seats, queue


def ids_with(event: Event, status: str) -> list[int]:
    return list(
        Attendee.objects.filter(event=event, status=status)
        .order_by("id")
        .values_list("pk", flat=True)
    )


def assert_counters_match_rows(event: Event) -> Event:
    event.refresh_from_db()
    assert event.seats_taken == len(ids_with(event, "registered")) <= event.max_capacity
    assert event.waitlist_taken == len(ids_with(event, "waitlisted"))
    return event


def test_cancellations_racing_newcomers_promote_the_first_in_line(racers, full_with_queue):
    """5 cancellations racing 12 newcomers, with 8 waiting: the freed seats go to the first 5
    waiting, in order, and every newcomer is refused."""
    way_in, _ = racers
    event, seats, queue = full_with_queue
    cancelled = seats[:5]

    def task(i: int) -> tuple[str, str]:
        if i < 5:
            return "cancel", way_in.cancel(cancelled[i].token)
        return "newcomer", way_in.register(event.pk, f"n{i}@example.com", waitlist=False)

    outcomes = Counter(race(17, task))

    assert outcomes == {("cancel", "cancelled"): 5, ("newcomer", "event_full"): 12}
    event = assert_counters_match_rows(event)
    assert event.seats_taken == CAPACITY
    queue_ids = [place.attendee.pk for place in queue]
    kept = [place.attendee.pk for place in seats[5:]]
    assert ids_with(event, "registered") == sorted(kept + queue_ids[:5])
    assert ids_with(event, "waitlisted") == queue_ids[5:]
    assert not Attendee.objects.filter(email__startswith="n").exists()


def test_capacity_raised_while_registrations_and_cancellations_race(racers, full_with_queue):
    """The capacity goes from 10 to 13 while 3 seats are cancelled and 12 newcomers register
    (half asking to wait): 6 seats free, and the first 6 waiting take them, none skipped."""
    way_in, _ = racers
    event, seats, queue = full_with_queue

    def task(i: int) -> tuple[str, str]:
        if i == 0:
            return "raise", way_in.set_capacity(event.pk, CAPACITY + 3)
        if i <= 3:
            return "cancel", way_in.cancel(seats[i].token)
        waitlist = i % 2 == 0
        outcome = way_in.register(event.pk, f"n{i}@example.com", waitlist=waitlist)
        return ("waiter" if waitlist else "newcomer"), outcome

    outcomes = Counter(race(16, task))

    assert outcomes == {
        ("raise", "capacity_changed"): 1,
        ("cancel", "cancelled"): 3,
        ("waiter", "waitlisted"): 6,
        ("newcomer", "event_full"): 6,
    }
    event = assert_counters_match_rows(event)
    assert (event.max_capacity, event.seats_taken) == (CAPACITY + 3, CAPACITY + 3)
    queue_ids = [place.attendee.pk for place in queue]
    promoted = sorted(set(ids_with(event, "registered")) & set(queue_ids))
    assert promoted == queue_ids[:6]
    waiting = ids_with(event, "waitlisted")
    # The rest of the queue first, then the newcomers who asked to wait, in arrival order.
    assert waiting[:2] == queue_ids[6:]
    assert len(waiting) == 2 + 6
    assert max(promoted) < min(waiting)
