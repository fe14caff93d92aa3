"""The outbox: emails written in the transaction of the change that causes them, sent by the
worker.

Each message is one row of OutgoingMessage, inserted by the caller's transaction, and that row
is the queue: a change that commits always has its email queued, one that rolls back never does,
and nothing else is written. The worker (`manage.py send_emails`) claims the rows that are due
with `FOR UPDATE SKIP LOCKED` (several workers never claim one message twice) and moves their
`available_at` a lease ahead (EMAIL_LEASE_SECONDS): a worker that dies holding messages, killed
or cut from the database, leaves them to be claimed again once the lease runs out. It renders
each message from the rows as they are then and hands it to the mail server. A failure is
recorded on the row and the message falls due again EMAIL_RETRY_BASE_SECONDS later, then twice
as long each time, up to EMAIL_MAX_ATTEMPTS tries; then it stays failed, for staff to retry
(admin action or `manage.py retry_messages`).

What one mailbox can be sent is bounded. Anyone can type an address into a registration, so
the kinds that causes (MAILBOX_CAPPED_KINDS) are sent to one mailbox at most
EMAIL_MAX_PER_MAILBOX_PER_HOUR times an hour; the worker records the others `skipped`, with the
reason in `last_error`. The check is made when sending, from the `sent` rows, so queueing stays
one INSERT. A change notice (`event_changed`) to an attendee is not queued again while one for
the same attendee and event waits, unclaimed, to be sent: that one renders the event as it is
when sent. Once a worker has claimed it (it may be rendered already), a new change queues a new
notice, so nobody misses the last change.

Delivery is at least once: a crash after the mail server accepted a message and before `sent`
is recorded sends it again when its lease runs out. Never zero times after a commit.

A registration's row also says, for its webhooks, what happened: the claim that first takes it
publishes its webhook message, right after claiming and before sending (core/webhooks.py), so a
registration writes this one row whatever the number of webhook endpoints.
"""

import logging
import smtplib
import threading
import time
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models.functions import Lower, Now

from core.mail import MessageObsolete, render_message
from core.models import AttendeeStatus, MessageKind, MessageStatus, OutgoingMessage
from core.webhooks import publish_registrations

logger = logging.getLogger(__name__)

# What is kept of an error's text on the row.
ERROR_MAX_LENGTH = 2000
# Messages one claim takes; each is held for the lease while the others are sent.
CLAIM_SIZE = 20
# The worker's pauses after a database error: doubled each time, up to the last, and reset by
# the first claim that works.
RECONNECT_DELAYS = (0.5, 1, 2, 4, 8, 15)
# The kinds a stranger can cause to any address (by registering it, then cancelling with the
# token the registration answered), capped per mailbox; the others come from organisers, who
# have request budgets and accounts, or from a seat freeing.
MAILBOX_CAPPED_KINDS = (
    MessageKind.REGISTERED,
    MessageKind.WAITLISTED,
    MessageKind.PENDING,
    MessageKind.CANCELLED,
)
# Kinds of which one unclaimed message per attendee and event is enough: it renders the event
# as it is when sent.
COALESCED_KINDS = (MessageKind.EVENT_CHANGED,)
MAILBOX_CAP_REASON = (
    "Not sent: {count} emails were sent to this mailbox in the last hour (cap {cap})."
)


def queue_message(
    *,
    kind: MessageKind,
    event_id: int,
    attendee_id: int | None,
    name: str,
    email: str,
    seated: bool = False,
) -> OutgoingMessage:
    """Queue one email in the caller's transaction: one INSERT."""
    return OutgoingMessage.objects.create(
        kind=kind,
        event_id=event_id,
        attendee_id=attendee_id,
        name=name,
        email=email,
        seated=seated,
    )


def queue_messages(
    *, kind: MessageKind, event_id: int, attendees: Iterable, seated: bool | None = None
) -> int:
    """Queue one email of `kind` to each of `attendees` (rows with id, name, email, status) in
    the caller's transaction: one INSERT. `seated` says whether they hold seats (default: as
    their status says). How many.

    For a kind in COALESCED_KINDS, an attendee with such a message waiting, unclaimed, for the
    same event gets none: that message is locked first (a claim skips it until the caller
    commits, so it is rendered with the change) and sent instead."""
    if kind in COALESCED_KINDS:
        waiting = set(
            OutgoingMessage.objects.filter(
                kind=kind, event_id=event_id, status=MessageStatus.QUEUED, available_at__lte=Now()
            )
            .select_for_update()
            .values_list("attendee_id", flat=True)
        )
        attendees = [attendee for attendee in attendees if attendee.pk not in waiting]
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
    return len(messages)


def requeue_messages(messages) -> int:
    """Queue again the failed messages among `messages` (a queryset), due at once and with a
    fresh count of attempts; in the caller's transaction. How many."""
    return messages.filter(status=MessageStatus.FAILED).update(
        status=MessageStatus.QUEUED, attempts=0, last_error="", available_at=Now()
    )


def claim_messages(*, limit: int = CLAIM_SIZE) -> list[int]:
    """Claim up to `limit` due messages, oldest due first, for EMAIL_LEASE_SECONDS: their ids.
    The registrations' webhook messages are published right after, before any is sent.

    Rows another worker is claiming are skipped, not waited for. Until the lease runs out no
    other claim takes them; then, unless sent or failed meanwhile, they are due again.

    The claim's transaction locks nothing but its rows. Publishing refers to the messages'
    events, which a change of an event (an erasure, a cancellation, an organiser's edit) locks
    before it touches the event's messages: doing both in one transaction would wait for such a
    change while holding what it waits for. A worker that dies between the two leaves the rows
    leased, and the claim that takes them again publishes what is missing.
    """
    lease = timedelta(seconds=settings.EMAIL_LEASE_SECONDS)
    with transaction.atomic():
        ids = list(
            OutgoingMessage.objects.filter(status=MessageStatus.QUEUED, available_at__lte=Now())
            .order_by("available_at", "id")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            OutgoingMessage.objects.filter(pk__in=ids).update(available_at=Now() + lease)
    if ids:
        # The row says what happened: its webhook message is published by the worker, so a
        # registration writes no more than this row (core/webhooks.py).
        with transaction.atomic():
            publish_registrations(ids)
    return ids


def send_due_messages(*, limit: int = CLAIM_SIZE) -> int:
    """Claim the due messages (up to `limit`) and send them one after the other; how many were
    claimed. Each failure is recorded and retried on its own."""
    ids = claim_messages(limit=limit)
    for message_id in ids:
        deliver_message(message_id=message_id)
    return len(ids)


def deliver_message(*, message_id: int) -> str:
    """Send the message if it is still queued, and record the outcome; its status after.

    No lock is held while the mail server is spoken to. A message already sent is not sent
    again, so a message claimed twice sends once, except after a crash in between (see above).
    """
    message = OutgoingMessage.objects.select_related("event").filter(pk=message_id).first()
    if message is None or message.status != MessageStatus.QUEUED:
        return message.status if message else "missing"
    if message.kind in MAILBOX_CAPPED_KINDS:
        sent = _sent_to_mailbox_in_the_last_hour(message.email)
        cap = settings.EMAIL_MAX_PER_MAILBOX_PER_HOUR
        if cap and sent >= cap:
            logger.warning("Message %s not sent: its mailbox is over its hourly cap", message.pk)
            reason = MAILBOX_CAP_REASON.format(count=sent, cap=cap)
            _record(message_id, status=MessageStatus.SKIPPED, last_error=reason)
            return MessageStatus.SKIPPED
    try:
        email = render_message(message)
        email.send()
    except MessageObsolete:
        _record(message_id, status=MessageStatus.SKIPPED, last_error="")
        return MessageStatus.SKIPPED
    except (OperationalError, InterfaceError):
        raise  # the database's: the worker waits for it, and the lease brings the message back
    except Exception as error:  # noqa: BLE001 - a mail server's failure, or a message that
        # cannot be rendered: recorded and retried on its own, never stopping the worker
        return _failed(message, error)
    _record(message_id, status=MessageStatus.SENT, last_error="", sent_at=Now())
    return MessageStatus.SENT


def run_worker(
    *,
    stop: threading.Event,
    poll_seconds: float,
    periodic: Callable[[], object] | None = None,
    period_seconds: float = 3600,
) -> None:
    """Send due messages until `stop` is set: a claim at once after a full one, else every
    `poll_seconds`. A database that fails (down, restarted, frozen past its timeouts) is waited
    for, RECONNECT_DELAYS apart, on a new connection each time; nothing claimed is lost, as its
    lease brings it back. `periodic` (the retention pass), if given, runs first and then every
    `period_seconds`, between claims."""
    failures = 0
    next_pass = time.monotonic()
    while not stop.is_set():
        try:
            if periodic is not None and time.monotonic() >= next_pass:
                periodic()
                next_pass = time.monotonic() + period_seconds
            claimed = send_due_messages()
        except (OperationalError, InterfaceError) as error:
            delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
            failures += 1
            logger.warning(
                "Database unavailable to the email worker (%s); retrying in %s s",
                type(error).__name__,
                delay,
            )
            _drop_connection()
            stop.wait(delay)
            continue
        failures = 0
        if claimed < CLAIM_SIZE:
            stop.wait(poll_seconds)


def _drop_connection() -> None:
    try:
        connection.close()
    except (OperationalError, InterfaceError):
        pass  # broken already: the next query opens a new one


def _sent_to_mailbox_in_the_last_hour(email: str) -> int:
    """Messages of the capped kinds sent to `email` (in any case) in the last hour."""
    return (
        OutgoingMessage.objects.alias(mailbox=Lower("email"))
        .filter(
            mailbox=email.lower(),
            kind__in=MAILBOX_CAPPED_KINDS,
            status=MessageStatus.SENT,
            sent_at__gte=Now() - timedelta(hours=1),
        )
        .count()
    )


def _record(message_id: int, **fields) -> None:
    OutgoingMessage.objects.filter(pk=message_id, status=MessageStatus.QUEUED).update(**fields)


def _failed(message: OutgoingMessage, error: Exception) -> str:
    attempts = message.attempts + 1
    # The row keeps the error's text for staff (the admin shows it beside the address anyway);
    # the log names the message and the kind of error only, never an address, a name or a token.
    text = f"{type(error).__name__}: {error}"[:ERROR_MAX_LENGTH]
    logger.warning(
        "Sending message %s failed (attempt %s of %s): %s%s",
        message.pk,
        attempts,
        settings.EMAIL_MAX_ATTEMPTS,
        type(error).__name__,
        _smtp_codes(error),
    )
    if attempts >= settings.EMAIL_MAX_ATTEMPTS:
        _record(message.pk, status=MessageStatus.FAILED, attempts=attempts, last_error=text)
        return MessageStatus.FAILED
    delay = timedelta(seconds=settings.EMAIL_RETRY_BASE_SECONDS * 2 ** (attempts - 1))
    _record(message.pk, attempts=attempts, last_error=text, available_at=Now() + delay)
    return MessageStatus.QUEUED


def _smtp_codes(error: Exception) -> str:
    """The reply codes of the mail server's refusal, as ` (SMTP 550)`, without its text (which
    may quote the address); empty for an error that is not a refusal."""
    if isinstance(error, smtplib.SMTPResponseException):
        codes = [error.smtp_code]
    elif isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in error.recipients.values()})
    else:
        return ""
    return f" (SMTP {', '.join(map(str, codes))})"
