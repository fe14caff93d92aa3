"""Webhooks: what happens at an organiser's events, told to the URLs they register, signed to
the Standard Webhooks specification and delivered at least once, in order per endpoint.

One happening, one WebhookMessage. An event's creation, change and cancellation write theirs
in the transaction of the change (`publish_event`, called by core.services), and so do a
check-in and its undoing (`publish_checkins`, called by core.checkin; on PostgreSQL an online
check-in's function writes it, core/sql/checkin.py). A registration writes nothing more than it
did: its email outbox row (core/outbox.py) says what happened, and the worker's claim of that
row publishes the message (`publish_registrations`, right after the claim, once per row
whatever the number of claims). So a change that commits always has its message, one that rolls
back never does, and a registration or a check-in costs the same whatever the number of
endpoints.

The worker then fans each message out (`fan_out_messages`): one WebhookDelivery per endpoint
that wants it, created and the message marked in one transaction of its own, so a worker
killed mid-way leaves the message to fan out again, and a unique (message, endpoint) makes a
repeat add nothing. Deliveries are claimed as emails are (`FOR UPDATE SKIP LOCKED`, a lease of
WEBHOOK_LEASE_SECONDS): a worker killed mid-send leaves the delivery to be sent again, with the
same `webhook-id`, once its lease runs out. At least once; receivers deduplicate by the id.

Per endpoint, in order: only an endpoint's oldest pending delivery is ever claimed, so one
waits for the ones before it, retries included. The order is the order messages are published:
an event's changes and registrations are serialised by its row lock, but a registration's
message is published by the worker shortly after it commits, so with the worker behind an
`event.*` message can overtake a registration made just before it; the body's `timestamp` says
when each happened.

Retries: on a timeout, a connection error, 429 or 5xx, after WEBHOOK_RETRY_BASE_SECONDS (with
jitter), doubling, for WEBHOOK_RETRY_WINDOW from the first try; then the delivery fails, its
endpoint is switched off and its owner emailed. `410 Gone` switches the endpoint off at once;
any other answer outside 2xx fails the delivery without retries (its owner may redeliver it).

No server-side request forgery: a URL is `https` (`http` with WEBHOOKS_ALLOW_HTTP), and every
address its host resolves to must be public (WEBHOOKS_ALLOW_PRIVATE allows others), checked
when it is saved and again at each connection, which goes to the address checked (a name that
resolves elsewhere by then is refused, never re-resolved). Redirects are not followed;
connecting may take 5 s, the whole request 10 s; at most 64 KiB of the answer is read.
"""

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import random
import secrets
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import Now
from django.utils import timezone

from core.models import (
    Attendee,
    AttendeeStatus,
    CheckIn,
    Event,
    MessageKind,
    OutgoingMessage,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEventType,
    WebhookMessage,
)
from core.selectors import checked_in_count

logger = logging.getLogger(__name__)

# The email outbox's kinds that are registrations' happenings, and the webhook each publishes.
REGISTRATION_TYPES = {
    MessageKind.REGISTERED: WebhookEventType.REGISTRATION_CREATED,
    MessageKind.WAITLISTED: WebhookEventType.REGISTRATION_WAITLISTED,
    MessageKind.PROMOTED: WebhookEventType.REGISTRATION_PROMOTED,
    MessageKind.CANCELLED: WebhookEventType.REGISTRATION_CANCELLED,
    MessageKind.REMOVED: WebhookEventType.REGISTRATION_REMOVED,
}

# What is told of the door: an admission, and its undoing.
CHECKIN_TYPES = (WebhookEventType.CHECKIN_CREATED, WebhookEventType.CHECKIN_REVERTED)

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
# A rotated secret signs beside the new one this long.
ROTATION_OVERLAP = timedelta(hours=24)

CONNECT_TIMEOUT = 5
REQUEST_TIMEOUT = 10
MAX_ANSWER_BYTES = 64 * 1024
KEPT_ANSWER_CHARS = 2048
ERROR_MAX_LENGTH = 2000
USER_AGENT = "events-api-webhooks/1"

CLAIM_SIZE = 20
FAN_OUT_SIZE = 100
RECONNECT_DELAYS = (0.5, 1, 2, 4, 8, 15)
PURGE_EVERY_SECONDS = 3600

HTTPS_REQUIRED_MESSAGE = "Enter an https:// URL."
NO_HOST_MESSAGE = "Enter a URL with a host name."
CREDENTIALS_MESSAGE = "A webhook URL cannot hold a user name or password."
UNRESOLVED_MESSAGE = "The URL's host name does not resolve."
PRIVATE_ADDRESS_MESSAGE = (
    "The URL's host resolves to a loopback, private, link-local or otherwise non-public "
    "address, where webhooks are not sent."
)
GONE_REASON = "The endpoint answered 410 Gone."
EXHAUSTED_REASON = "Deliveries failed for {hours:g} hours."

# How an attempt ends, as the metrics count it (event_management_system/ops/metrics.py).
OUTCOMES = ("delivered", "retried", "failed")


class AddressRefused(Exception):
    """The host resolves to an address webhooks are not sent to."""


# ---------------------------------------------------------------------------------------------
# Secrets and signatures.


def new_secret() -> str:
    """A fresh signing secret: `whsec_` and 32 random bytes in Base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signing_secrets(endpoint: WebhookEndpoint, *, now: datetime) -> list[str]:
    """The secrets that sign for `endpoint` at `now`: its own, and a rotated one for a day."""
    kept = endpoint.previous_secret and endpoint.previous_secret_expires_at
    if kept and endpoint.previous_secret_expires_at > now:
        return [endpoint.secret, endpoint.previous_secret]
    return [endpoint.secret]


def signature(*, secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: `v1,<Base64 HMAC-SHA256>` per secret, space-separated,
    over `<msg_id>.<timestamp>.<body>` (Standard Webhooks)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    parts = []
    for secret in secrets:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
        digest = hmac.new(key, signed, hashlib.sha256).digest()
        parts.append("v1," + base64.b64encode(digest).decode())
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------
# Where webhooks may go.


def address_allowed(address: str) -> bool:
    """Whether webhooks may connect to `address`: a public one, or any with
    WEBHOOKS_ALLOW_PRIVATE."""
    if settings.WEBHOOKS_ALLOW_PRIVATE:
        return True
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # Not global: loopback, private ranges, link-local (the cloud metadata address among them),
    # shared and reserved ranges; multicast is never a web server.
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[tuple]:
    """Every address `host` resolves to, as getaddrinfo gives them (TCP); raises OSError."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def vetted_address(host: str, port: int) -> tuple:
    """The address to connect to for `host`: the first it resolves to, once every one is
    allowed. Raises AddressRefused, or OSError when it does not resolve."""
    addresses = resolve(host, port)
    if not addresses:
        raise OSError(f"{host} resolves to no address")
    for *_, sockaddr in addresses:
        if not address_allowed(sockaddr[0]):
            raise AddressRefused(PRIVATE_ADDRESS_MESSAGE)
    return addresses[0]


def check_url(url: str) -> None:
    """Raise ValidationError unless webhooks may be sent to `url` now: its scheme, and the
    addresses its host resolves to."""
    parts = _checked_form(url)
    try:
        vetted_address(parts.hostname, _port(parts))
    except AddressRefused:
        raise ValidationError(PRIVATE_ADDRESS_MESSAGE, code="private_address") from None
    except (OSError, UnicodeError):
        raise ValidationError(UNRESOLVED_MESSAGE, code="invalid") from None


def _checked_form(url: str):
    """`url` split, once its scheme is allowed and it names a host and no credentials; else
    ValidationError."""
    parts = urlsplit(url)
    schemes = {"https", "http"} if settings.WEBHOOKS_ALLOW_HTTP else {"https"}
    if parts.scheme not in schemes:
        raise ValidationError(HTTPS_REQUIRED_MESSAGE, code="invalid")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(CREDENTIALS_MESSAGE, code="invalid")
    if not parts.hostname:
        raise ValidationError(NO_HOST_MESSAGE, code="invalid")
    return parts


def _port(parts) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


# ---------------------------------------------------------------------------------------------
# Publishing: one message per happening.


def _when(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_data(event: Event) -> dict:
    """The event as its owner's API shows it (api.events.serializers.EventSerializer), in UTC."""
    return {
        "id": event.id,
        "name": event.name,
        "location": event.location,
        "start_time": _when(event.start_time),
        "end_time": _when(event.end_time),
        "max_capacity": event.max_capacity,
        "requires_approval": event.requires_approval,
        "status": event.status,
        "attendee_count": event.seats_taken,
        "seats_available": event.max_capacity - event.seats_taken,
        "waitlist_count": event.waitlist_taken,
        # What the owner's API adds for its door (api/checkins/).
        "checked_in_count": checked_in_count(event_id=event.pk),
    }


def new_message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def publish_event(*, type: WebhookEventType, event: Event) -> WebhookMessage:
    """Write the message that `event` was created, changed or cancelled, in the caller's
    transaction: one INSERT, whatever the number of endpoints. `event` is as it is after the
    change (its counters fresh)."""
    return WebhookMessage.objects.create(
        uid=new_message_id(),
        type=type,
        event_id=event.pk,
        data=event_data(event),
        occurred_at=timezone.now(),
    )


def publish_registrations(message_ids: list[int]) -> int:
    """Publish the webhook message of each registration happening among the email outbox rows
    `message_ids` (the worker's claim), in the caller's transaction; a row published already
    adds nothing. How many rows were looked at."""
    rows = list(
        OutgoingMessage.objects.filter(pk__in=message_ids, kind__in=REGISTRATION_TYPES)
        .order_by("id")
        .only("kind", "event_id", "attendee_id", "name", "email", "seated", "created_at")
    )
    if not rows:
        return 0
    registered_at = dict(
        Attendee.objects.filter(pk__in=[row.attendee_id for row in rows]).values_list(
            "pk", "registered_at"
        )
    )
    WebhookMessage.objects.bulk_create(
        [
            WebhookMessage(
                uid=new_message_id(),
                type=REGISTRATION_TYPES[row.kind],
                event_id=row.event_id,
                data=_registration_data(row, registered_at.get(row.attendee_id)),
                occurred_at=row.created_at,
                source_message_id=row.pk,
            )
            for row in rows
        ],
        ignore_conflicts=True,
    )
    return len(rows)


def _registration_data(row: OutgoingMessage, registered_at: datetime | None) -> dict:
    """The registration as the owner's API shows an attendee, with its event and the place it
    held: a seat (`registered`) or a waiting place (`waitlisted`). `registered_at` is null
    when the registration was gone by publishing."""
    seated = row.kind != MessageKind.WAITLISTED and (
        row.seated or row.kind in (MessageKind.REGISTERED, MessageKind.PROMOTED)
    )
    return {
        "id": row.attendee_id,
        "event": row.event_id,
        "name": row.name,
        "email": row.email,
        "status": AttendeeStatus.REGISTERED if seated else AttendeeStatus.WAITLISTED,
        "registered_at": _when(registered_at),
    }


def checkin_data(checkin: CheckIn, *, device: dict | None) -> dict:
    """The check-in as the owner's API shows an admission (api.checkins.serializers
    .AdmissionSerializer), with its event and whether it was scanned offline, in UTC; `device`
    is the admitting device's `{"id", "name"}`, or None for a person signed in. The same object
    core/sql/checkin.py builds for an online check-in on PostgreSQL."""
    return {
        "id": checkin.pk,
        "event": checkin.event_id,
        "registration": checkin.registration_id,
        "name": checkin.name,
        "checked_in_at": _when(checkin.checked_in_at),
        "device": device,
        "offline": checkin.offline,
    }


def publish_checkins(
    *,
    type: WebhookEventType,
    checkins: list[tuple[CheckIn, dict | None]],
    occurred_at: datetime | None = None,
) -> None:
    """Write the messages that these check-ins (each with its device, as checkin_data takes
    it) were made or undone, in the caller's transaction: one INSERT for them all, whatever the
    number of endpoints. `occurred_at` (default: now) is when the server recorded it."""
    if not checkins:
        return
    at = occurred_at or timezone.now()
    WebhookMessage.objects.bulk_create(
        WebhookMessage(
            uid=new_message_id(),
            type=type,
            event_id=checkin.event_id,
            data=checkin_data(checkin, device=device),
            occurred_at=at,
        )
        for checkin, device in checkins
    )


def body_of(message: WebhookMessage) -> bytes:
    """The request body, the same bytes for every attempt: `{"type", "timestamp", "data"}`."""
    payload = {"type": message.type, "timestamp": _when(message.occurred_at), "data": message.data}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


# ---------------------------------------------------------------------------------------------
# Fan-out: one delivery per endpoint that wants the message.


def wants(endpoint: tuple, message: WebhookMessage, owner_id: int | None) -> bool:
    """Whether the endpoint `(owner_id, owner is staff, event types)` is told `message`: its
    type is subscribed to, and the event is its owner's (any event, for staff)."""
    endpoint_owner, staff, event_types = endpoint
    return message.type in event_types and (
        staff or (owner_id is not None and endpoint_owner == owner_id)
    )


def fan_out_messages(*, limit: int = FAN_OUT_SIZE) -> int:
    """Create the deliveries of up to `limit` messages not fanned out yet, oldest first, and
    mark them, in one transaction; how many messages. A concurrent fan-out waits for this one
    (so deliveries keep the messages' order) and then finds them done."""
    with transaction.atomic():
        messages = list(
            WebhookMessage.objects.filter(fanned_out=False)
            .order_by("id")
            .select_for_update()
            .only("type", "event_id")[:limit]
        )
        if not messages:
            return 0
        owners = dict(
            Event.objects.filter(pk__in={m.event_id for m in messages}).values_list(
                "pk", "owner_id"
            )
        )
        endpoints = {
            pk: rest
            for pk, *rest in WebhookEndpoint.objects.filter(enabled=True).values_list(
                "pk", "owner_id", "owner__is_staff", "event_types"
            )
        }
        deliveries = [
            WebhookDelivery(message=message, endpoint_id=pk)
            for message in messages
            for pk, endpoint in endpoints.items()
            if wants(endpoint, message, owners.get(message.event_id))
        ]
        WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        WebhookMessage.objects.filter(pk__in=[m.pk for m in messages]).update(fanned_out=True)
    return len(messages)


# ---------------------------------------------------------------------------------------------
# Delivery.


def claim_deliveries(*, limit: int = CLAIM_SIZE) -> list[int]:
    """Claim up to `limit` due deliveries for WEBHOOK_LEASE_SECONDS: each the oldest pending
    one of its endpoint (an enabled one), so an endpoint gets its messages one after the other,
    in order. Rows another worker is claiming are skipped."""
    lease = timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    earlier = WebhookDelivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"),
        status=WebhookDeliveryStatus.PENDING,
        id__lt=OuterRef("id"),
    )
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.filter(
                status=WebhookDeliveryStatus.PENDING,
                available_at__lte=Now(),
                endpoint__enabled=True,
            )
            .exclude(Exists(earlier))
            .order_by("available_at", "id")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            WebhookDelivery.objects.filter(pk__in=ids).update(available_at=Now() + lease)
    return ids


@dataclass(frozen=True)
class Answer:
    """What one attempt got: the status and the first bytes of the answer, or an error."""

    status: int | None
    body: bytes
    duration_ms: int
    error: str = ""
    # A refused address or URL: trying again changes nothing.
    refused: bool = False


class _PinnedConnection(http.client.HTTPConnection):
    """A connection to the address checked for the host, never to another it resolves to."""

    def __init__(self, host, port, *, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection(self.address[:2], timeout=CONNECT_TIMEOUT)
        self.sock.settimeout(self.timeout)


class _PinnedTLSConnection(_PinnedConnection):
    """_PinnedConnection over TLS, the certificate checked for the URL's host name."""

    tls = ssl.create_default_context()

    def connect(self):
        super().connect()
        self.sock = self.tls.wrap_socket(self.sock, server_hostname=self.host)


def post(url: str, *, headers: dict[str, str], body: bytes) -> Answer:
    """POST `body` to `url` once, as webhooks are sent (see the module's docstring)."""
    started = time.monotonic()

    def answer(status=None, data=b"", error="", refused=False) -> Answer:
        elapsed = int((time.monotonic() - started) * 1000)
        return Answer(status, data, elapsed, error[:ERROR_MAX_LENGTH], refused)

    try:
        parts = _checked_form(url)  # the settings may have changed since it was saved
    except ValidationError as error:
        return answer(error=error.messages[0], refused=True)
    try:
        # Resolved now, and connected to the very address checked: no second look-up.
        address = vetted_address(parts.hostname, _port(parts))[4]
    except AddressRefused as error:
        return answer(error=str(error), refused=True)
    except (OSError, UnicodeError) as error:
        return answer(error=f"{UNRESOLVED_MESSAGE} ({type(error).__name__})")
    kind = _PinnedTLSConnection if parts.scheme == "https" else _PinnedConnection
    conn = kind(parts.hostname, _port(parts), address=address, timeout=REQUEST_TIMEOUT)
    # The whole request's bound: the socket is shut at it, whatever it is waiting for.
    watchdog = threading.Timer(REQUEST_TIMEOUT, _shut, args=(conn,))
    watchdog.start()
    try:
        path = parts.path or "/"
        conn.request(
            "POST", f"{path}?{parts.query}" if parts.query else path, body=body, headers=headers
        )
        response = conn.getresponse()
        data = _read_at_most(response, MAX_ANSWER_BYTES)
        return answer(response.status, data)
    except (OSError, http.client.HTTPException) as error:
        if time.monotonic() - started >= REQUEST_TIMEOUT:
            return answer(error=f"Timed out after {REQUEST_TIMEOUT} s")
        return answer(error=f"{type(error).__name__}: {error}")
    finally:
        watchdog.cancel()
        conn.close()


def _shut(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # closed already


def _read_at_most(response, limit: int) -> bytes:
    chunks, size = [], 0
    while size < limit:
        chunk = response.read(min(8192, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def headers_for(message: WebhookMessage, endpoint: WebhookEndpoint, body: bytes) -> dict:
    """The Standard Webhooks headers of one attempt, signed now."""
    now = timezone.now()
    timestamp = int(now.timestamp())
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message.uid,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(
            secrets=signing_secrets(endpoint, now=now),
            msg_id=message.uid,
            timestamp=timestamp,
            body=body,
        ),
    }


def deliver(*, delivery_id: int) -> str:
    """Try the delivery once if it is still pending and its endpoint enabled, and record the
    attempt; its status after. No lock is held while the endpoint is spoken to."""
    delivery = (
        WebhookDelivery.objects.select_related("message", "endpoint").filter(pk=delivery_id).first()
    )
    if delivery is None:
        return "missing"
    if delivery.status != WebhookDeliveryStatus.PENDING or not delivery.endpoint.enabled:
        return delivery.status
    body = body_of(delivery.message)
    attempted_at = timezone.now()
    result = post(
        delivery.endpoint.url, headers=headers_for(delivery.message, delivery.endpoint, body),
        body=body,
    )  # fmt: skip
    return _record_attempt(delivery, result, attempted_at=attempted_at)


def _record_attempt(delivery: WebhookDelivery, result: Answer, *, attempted_at) -> str:
    endpoint = delivery.endpoint
    attempts = delivery.attempts + 1
    retry_until = delivery.retry_until or attempted_at + settings.WEBHOOK_RETRY_WINDOW
    fields = {"attempts": attempts, "retry_until": retry_until}
    disable_reason = ""
    status = result.status
    if status is not None and 200 <= status < 300:
        outcome, fields["status"], fields["delivered_at"] = "delivered", "delivered", Now()
    elif status == 410:
        outcome, fields["status"], disable_reason = "failed", "failed", GONE_REASON
    elif result.refused or (status is not None and status != 429 and status < 500):
        outcome, fields["status"] = "failed", "failed"
    else:
        now = timezone.now()
        if now >= retry_until:
            outcome, fields["status"] = "failed", "failed"
            hours = settings.WEBHOOK_RETRY_WINDOW / timedelta(hours=1)
            disable_reason = EXHAUSTED_REASON.format(hours=hours)
        else:
            outcome = "retried"
            fields["available_at"] = now + min(retry_delay(attempts), retry_until - now)
    with transaction.atomic():
        updated = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=WebhookDeliveryStatus.PENDING
        ).update(**fields)
        if not updated:  # redelivered, or its endpoint deleted, meanwhile
            now_status = WebhookDelivery.objects.filter(pk=delivery.pk).values_list("status")
            return (now_status.first() or ("missing",))[0]
        WebhookAttempt.objects.create(
            delivery_id=delivery.pk,
            attempted_at=attempted_at,
            status_code=status,
            duration_ms=result.duration_ms,
            # Text as PostgreSQL keeps it: no NUL, whatever the endpoint answered.
            response_body=result.body[:KEPT_ANSWER_CHARS]
            .decode("utf-8", "replace")
            .replace("\x00", "\ufffd"),
            error=result.error.replace("\x00", "\ufffd"),
            outcome=outcome,
        )
        disabled = disable_reason and WebhookEndpoint.objects.filter(
            pk=endpoint.pk, enabled=True
        ).update(enabled=False, disabled_reason=disable_reason)
    if outcome != "delivered":
        logger.warning(
            "Webhook delivery %s %s (attempt %s): %s",
            delivery.pk, outcome, attempts, status or result.error.split(":")[0],
        )  # fmt: skip
    if disabled:
        _tell_owner(endpoint, disable_reason)
    return fields.get("status", WebhookDeliveryStatus.PENDING)


def retry_delay(attempts: int) -> timedelta:
    """The pause after the `attempts`-th failure: WEBHOOK_RETRY_BASE_SECONDS doubled each time,
    with jitter (between half of it and all of it), so endpoints that fail together do not
    come back in step."""
    base = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** min(attempts - 1, 30)
    return timedelta(seconds=base * random.uniform(0.5, 1.0))  # noqa: S311 - not a secret


def _tell_owner(endpoint: WebhookEndpoint, reason: str) -> None:
    """Email the endpoint's owner that it was switched off; a failure is logged, not raised."""
    owner = endpoint.owner
    if not owner.email:
        return
    try:
        send_mail(
            subject="A webhook endpoint was switched off",
            message=(
                f"Your webhook endpoint {endpoint.url} was switched off: {reason}\n\n"
                "Its undelivered messages are kept. Switch it on again (PATCH "
                f'/api/webhooks/{endpoint.pk}/ with {{"enabled": true}}) once it answers.'
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[owner.email],
        )
    except Exception:  # noqa: BLE001 - a mail server's failure must not stop deliveries
        logger.exception("Telling the owner of webhook endpoint %s failed", endpoint.pk)


def deliver_due_webhooks(*, limit: int = CLAIM_SIZE) -> int:
    """Fan out the new messages, then claim the due deliveries (up to `limit`) and send them
    one after the other; how many messages and deliveries were handled."""
    handled = fan_out_messages()
    ids = claim_deliveries(limit=limit)
    for delivery_id in ids:
        try:
            deliver(delivery_id=delivery_id)
        except (OperationalError, InterfaceError):
            raise  # the database's: the worker waits for it, the lease brings the delivery back
        except Exception:
            # A bug must not stop the other endpoints' deliveries: logged, and the lease
            # brings this one back.
            logger.exception("Webhook delivery %s could not be attempted", delivery_id)
    return handled + len(ids)


def purge_webhook_log(*, now: datetime | None = None) -> int:
    """Delete the messages older than WEBHOOK_LOG_AGE, with their deliveries and attempts,
    unless one of their deliveries is still pending; how many messages."""
    cutoff = (now or timezone.now()) - settings.WEBHOOK_LOG_AGE
    pending = WebhookDelivery.objects.filter(
        message_id=OuterRef("pk"), status=WebhookDeliveryStatus.PENDING
    )
    old = WebhookMessage.objects.filter(created_at__lt=cutoff, fanned_out=True).exclude(
        Exists(pending)
    )
    deleted, by_model = old.delete()
    return by_model.get(WebhookMessage._meta.label, 0)


def oldest_undelivered_age(*, now: datetime | None = None) -> float:
    """Seconds since the oldest message with a pending delivery (or not fanned out) was
    published; 0 when none waits. A growing value is a stuck queue."""
    waiting = WebhookMessage.objects.filter(
        Q(fanned_out=False)
        | Exists(
            WebhookDelivery.objects.filter(
                message_id=OuterRef("pk"), status=WebhookDeliveryStatus.PENDING
            )
        )
    )
    oldest = waiting.order_by("id").values_list("created_at", flat=True).first()
    if oldest is None:
        return 0.0
    return max(0.0, ((now or timezone.now()) - oldest).total_seconds())


def attempts_by_outcome() -> dict[str, int]:
    """The attempts in the kept log, by outcome (every one of OUTCOMES, 0 when none)."""
    counts = dict(WebhookAttempt.objects.values_list("outcome").annotate(n=Count("id")).order_by())
    return {outcome: counts.get(outcome, 0) for outcome in OUTCOMES}


def run_webhook_worker(*, stop: threading.Event, poll_seconds: float) -> None:
    """Fan out and deliver webhooks until `stop` is set, purging the old log hourly; a database
    that fails is waited for as the email worker waits (core.outbox.run_worker)."""
    failures = 0
    purged = 0.0
    try:
        while not stop.is_set():
            try:
                if time.monotonic() - purged > PURGE_EVERY_SECONDS:
                    purge_webhook_log()
                    purged = time.monotonic()
                handled = deliver_due_webhooks()
            except (OperationalError, InterfaceError) as error:
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                failures += 1
                logger.warning(
                    "Database unavailable to the webhook worker (%s); retrying in %s s",
                    type(error).__name__,
                    delay,
                )
                _drop_connection()
                stop.wait(delay)
                continue
            failures = 0
            if not handled:
                stop.wait(poll_seconds)
    finally:
        _drop_connection()


def _drop_connection() -> None:
    try:
        connection.close()
    except (OperationalError, InterfaceError):
        pass
