"""The outbox: emails written in the transaction of the change that causes them, sent by the
worker.

Each message is a row of OutgoingMessage and a task row of django-tasks' database backend,
both inserted by the caller's transaction (django-tasks writes its row when `enqueue` is
called, not on commit): a change that commits always has its email queued, one that rolls back
never does. The worker (`manage.py db_worker`) runs the task, which renders the message from
the rows as they are then and hands it to the mail server. A failure is recorded on the row
and the task queued again, EMAIL_RETRY_BASE_SECONDS later, then twice as long each time, up to
EMAIL_MAX_ATTEMPTS tries; then the message stays failed, for staff to retry (admin action or
`manage.py retry_messages`).

Delivery is at least once: a crash after the mail server accepted a message and before `sent`
is recorded sends it again when the task is run again. Never zero times after a commit.
"""

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from core.mail import MessageObsolete, render_message
from core.models import AttendeeStatus, MessageKind, MessageStatus, OutgoingMessage

logger = logging.getLogger(__name__)

# Messages sent by one task when a change concerns many attendees at once.
BATCH_SIZE = 200
# What is kept of an error's text on the row.
ERROR_MAX_LENGTH = 2000


def queue_message(
    *,
    kind: MessageKind,
    event_id: int,
    attendee_id: int | None,
    name: str,
    email: str,
    seated: bool = False,
) -> OutgoingMessage:
    """Queue one email in the caller's transaction: one INSERT for the message, one for its
    task."""
    message = OutgoingMessage.objects.create(
        kind=kind,
        event_id=event_id,
        attendee_id=attendee_id,
        name=name,
        email=email,
        seated=seated,
    )
    send_message.enqueue(message.pk)
    return message


def queue_messages(
    *, kind: MessageKind, event_id: int, attendees: Iterable, seated: bool | None = None
) -> int:
    """Queue one email of `kind` to each of `attendees` (rows with id, name, email, status) in
    the caller's transaction: one INSERT for the messages, one task per BATCH_SIZE of them.
    `seated` says whether they hold seats (default: as their status says). How many."""
    messages = OutgoingMessage.objects.bulk_create(
        OutgoingMessage(
            kind=kind,
            event_id=event_id,
            attendee_id=attendee.pk,
            name=attendee.name,
            email=attendee.email,
            seated=attendee.status == AttendeeStatus.REGISTERED if seated is None else seated,
        )
        for attendee in attendees
    )
    for batch in batched((message.pk for message in messages), BATCH_SIZE):
        send_messages.enqueue(batch)
    return len(messages)


def requeue_messages(messages) -> int:
    """Queue again the failed messages among `messages` (a queryset), with a fresh count of
    attempts; in the caller's transaction. How many."""
    ids = list(
        messages.filter(status=MessageStatus.FAILED)
        .select_for_update()
        .values_list("pk", flat=True)
    )
    OutgoingMessage.objects.filter(pk__in=ids).update(
        status=MessageStatus.QUEUED, attempts=0, last_error=""
    )
    for batch in batched(ids, BATCH_SIZE):
        send_messages.enqueue(batch)
    return len(ids)


@task()
def send_message(message_id: int) -> str:
    """Send one queued message; the task the outbox queues for it."""
    return deliver_message(message_id=message_id)


@task()
def send_messages(message_ids: list[int]) -> list[str]:
    """Send queued messages one after the other; each failure is retried on its own."""
    return [deliver_message(message_id=message_id) for message_id in message_ids]


def deliver_message(*, message_id: int) -> str:
    """Send the message if it is still queued, and record the outcome; its status after.

    No lock is held while the mail server is spoken to. A message already sent is not sent
    again, so a task run twice sends once, except after a crash in between (see above).
    """
    message = OutgoingMessage.objects.select_related("event").filter(pk=message_id).first()
    if message is None or message.status != MessageStatus.QUEUED:
        return message.status if message else "missing"
    try:
        email = render_message(message)
    except MessageObsolete:
        _record(message_id, status=MessageStatus.SKIPPED, last_error="")
        return MessageStatus.SKIPPED
    try:
        email.send()
    except Exception as error:  # noqa: BLE001 - any failure of the mail server is retried
        return _failed(message, error)
    _record(message_id, status=MessageStatus.SENT, last_error="", sent_at=timezone.now())
    return MessageStatus.SENT


def batched(ids: Iterable[int], size: int) -> Iterable[list[int]]:
    """`ids` in lists of `size`, the last one shorter."""
    batch = []
    for item in ids:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _record(message_id: int, **fields) -> None:
    OutgoingMessage.objects.filter(pk=message_id, status=MessageStatus.QUEUED).update(**fields)


def _failed(message: OutgoingMessage, error: Exception) -> str:
    attempts = message.attempts + 1
    text = f"{type(error).__name__}: {error}"[:ERROR_MAX_LENGTH]
    logger.warning(
        "Sending message %s failed (attempt %s of %s): %s",
        message.pk,
        attempts,
        settings.EMAIL_MAX_ATTEMPTS,
        text,
    )
    with transaction.atomic():
        if attempts >= settings.EMAIL_MAX_ATTEMPTS:
            _record(message.pk, status=MessageStatus.FAILED, attempts=attempts, last_error=text)
            return MessageStatus.FAILED
        _record(message.pk, attempts=attempts, last_error=text)
        delay = settings.EMAIL_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
        send_message.using(run_after=timezone.now() + timedelta(seconds=delay)).enqueue(message.pk)
    return MessageStatus.QUEUED
