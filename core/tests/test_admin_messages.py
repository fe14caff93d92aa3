"""The outbox in the admin: every email with its status and last error; failed ones retried."""

import pytest

from core.models import MessageStatus, OutgoingMessage
from core.services import register_attendee
from core.tests.admin_pages import messages, result_rows

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

MESSAGES = "/admin/core/outgoingmessage/"


@pytest.fixture
def failed(event_factory):
    event = event_factory(name="PyCon")
    register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    register_attendee(event_id=event.pk, name="Bob", email="bob@example.com")
    message = OutgoingMessage.objects.get(email="ada@example.com")
    OutgoingMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.FAILED, attempts=8, last_error="SMTPServerDisconnected: gone"
    )
    return message


def test_the_list_shows_status_and_last_error(admin_client, failed):
    rows = result_rows(admin_client.get(MESSAGES))
    by_email = {row["email"]: row for row in rows}
    assert by_email["ada@example.com"]["status"] == "Failed"
    assert by_email["ada@example.com"]["last_error"] == "SMTPServerDisconnected: gone"
    assert by_email["bob@example.com"]["status"] == "Queued"

    rows = result_rows(admin_client.get(MESSAGES, {"status__exact": "failed"}))
    assert [row["email"] for row in rows] == ["ada@example.com"]


def test_retry_queues_a_failed_message_again(admin_client, failed, deliver_emails):
    response = admin_client.post(
        MESSAGES,
        {"action": "retry", "_selected_action": [failed.pk]},
        follow=True,
    )
    assert messages(response) == ["1 failed message queued again."]
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.last_error) == (MessageStatus.QUEUED, 0, "")
    sent = {email.to[0] for email in deliver_emails()}
    assert sent == {"Ada <ada@example.com>", "Bob <bob@example.com>"}


def test_messages_are_not_written_from_the_admin(admin_client, failed):
    assert admin_client.get(f"{MESSAGES}add/").status_code == 403
    response = admin_client.post(f"{MESSAGES}{failed.pk}/change/", {"status": "sent"})
    assert response.status_code == 403
    failed.refresh_from_db()
    assert failed.status == MessageStatus.FAILED
