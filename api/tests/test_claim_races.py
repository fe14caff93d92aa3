"""A change to an event while the email worker claims that event's messages, for real: the
worker in a thread of its own, the change over HTTP. Neither waits for the other in a circle
(on PostgreSQL the server would break the circle by failing one of them: the change answered
503, or the worker's claim lost)."""

import threading
import time

import pytest

import core.outbox
from core.models import MessageKind, MessageStatus, OutgoingMessage

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]

# Long enough for the change to reach the rows the claim holds, and for PostgreSQL's deadlock
# check (deadlock_timeout, 1 s) to run while both wait.
CLAIM_HELD_SECONDS = 1.5


@pytest.fixture
def slow_claim(monkeypatch):
    """`slow_claim()`: start a worker's claim in a thread that dwells CLAIM_HELD_SECONDS where
    it publishes the claimed registrations' webhook messages; returns once the rows are claimed,
    with a function that waits for the claim and gives its ids (or raises its error)."""
    publish = core.outbox.publish_registrations
    claimed = threading.Event()

    def dwelling(ids):
        claimed.set()
        time.sleep(CLAIM_HELD_SECONDS)
        return publish(ids)

    monkeypatch.setattr(core.outbox, "publish_registrations", dwelling)

    def start():
        outcome = {}

        def claim():
            try:
                outcome["ids"] = core.outbox.claim_messages()
            except Exception as error:  # noqa: BLE001 - handed to the test's thread
                outcome["error"] = error
            finally:
                from django.db import connection

                connection.close()

        thread = threading.Thread(target=claim)
        thread.start()
        assert claimed.wait(10), "the worker claimed nothing"

        def result():
            thread.join(30)
            assert not thread.is_alive(), "the claim never ended"
            if "error" in outcome:
                raise outcome["error"]
            return outcome["ids"]

        return result

    return start


def register(client, event, email):
    response = client.post(
        f"/api/events/{event.pk}/register/", {"name": "Ada", "email": email}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_erasing_a_registration_whose_email_is_being_claimed(api_client, event_factory, slow_claim):
    event = event_factory()
    token = register(api_client, event, "ada@example.com")["token"]

    claim = slow_claim()
    response = api_client.delete(f"/api/registrations/{token}/?erase=true")

    assert response.status_code == 204, response.content
    assert len(claim()) == 1
    message = OutgoingMessage.objects.get()
    assert "ada" not in message.email
    assert message.status == MessageStatus.SKIPPED


def test_changing_an_event_whose_notices_are_being_claimed(
    api_client, token_client, event_factory, organiser_factory, slow_claim
):
    owner = organiser_factory()
    event = event_factory(owner=owner)
    register(api_client, event, "ada@example.com")
    path = f"/api/events/{event.pk}/"
    organiser = token_client(owner)
    assert organiser.patch(path, {"name": "Moved"}, format="json").status_code == 200

    # The claim holds Ada's confirmation and her first change notice; the second change waits
    # for that notice (it may not be queued twice) while the claim publishes the confirmation.
    claim = slow_claim()
    response = organiser.patch(path, {"name": "Moved again"}, format="json")

    assert response.status_code == 200, response.content
    assert len(claim()) == 2
    notices = OutgoingMessage.objects.filter(kind=MessageKind.EVENT_CHANGED)
    assert notices.count() == 2  # the claimed one may be rendered already: a new one follows
