"""Events and their attendees; the database constraints behind every rule.

Some fields are kept by the database itself, whoever writes the rows, and never written back from
a copy: the seat and waiting-list counters (triggers in core/sql/counters.py) and the change
version (core/sql/versions.py). On PostgreSQL a registration's decision and writes run as one
function (core/sql/registration.py).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Concat, Lower, Now, Upper

from core.emails import EMAIL_MAX_LENGTH

MAX_CAPACITY_LIMIT = 1_000_000

END_BEFORE_START_MESSAGE = "The end time must be after the start time."
CAPACITY_BELOW_ATTENDANCE_MESSAGE = (
    "The capacity cannot be lower than the {count} attendees already registered."
)

# Fields the database's triggers keep (core/sql/): never written back from a copy.
TRIGGER_KEPT_FIELDS = ("seats_taken", "waitlist_taken", "change_version", "requires_answers")


class EventStatus(models.TextChoices):
    """Whether an event still takes place."""

    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class AttendeeStatus(models.TextChoices):
    """Whether a registration holds a seat, waits for one, or waits for the organiser's approval
    (which holds no seat and no waiting place)."""

    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    PENDING = "pending"


# What an erased registration's name becomes, and the domain of the address it keeps:
# `erased-<id>@erased.invalid`, unique per row so the (event, lower(email)) index holds, on a
# domain that can never receive mail (RFC 2606). core.services.erase_registrations writes them.
ERASED_NAME = "(erased)"
ERASED_DOMAIN = "erased.invalid"


class Event(models.Model):
    """Something people register for; `seats_taken` counts its seats, `waitlist_taken` its
    waiting list."""

    name = models.CharField(max_length=200)
    location = models.CharField(max_length=255)
    start_time = models.DateTimeField()
    end_time = models.DateTimeField()
    max_capacity = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_CAPACITY_LIMIT)]
    )
    # Who created the event and may change it; none for an event created anonymously (under open
    # access), loaded from CSV or left by a deleted account: staff manage those. A deleted
    # account leaves its events, and their attendees, in place rather than taking them along.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        # The (owner, start_time, id) index below serves lookups by owner.
        db_index=False,
    )
    # A cancelled event keeps its page and its registrations, takes no new ones and leaves the
    # upcoming list.
    status = models.CharField(
        max_length=10,
        choices=EventStatus.choices,
        default=EventStatus.SCHEDULED,
        db_default=EventStatus.SCHEDULED,
    )
    # Kept equal to the number of its registered and of its waitlisted attendee rows by
    # database triggers (core/sql/counters.py), so that a capacity check reads integers under
    # the row lock instead of counting rows.
    seats_taken = models.PositiveIntegerField(default=0, editable=False)
    # A default in the database too: an INSERT written before this counter existed still works.
    waitlist_taken = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    # Registrations wait for the owner's approval (pending) before they get a seat.
    requires_approval = models.BooleanField(default=False, db_default=False)
    # Whether any of its questions must be answered: kept by the database's triggers on the
    # questions (core/sql/questions.py), read under the registration's lock so a registration
    # without answers costs no read of the questions.
    requires_answers = models.BooleanField(default=False, db_default=False, editable=False)
    # The calendar invite's SEQUENCE: grows each time the name, place or times change, so an
    # updated invite replaces the one attendees have.
    sequence = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    # A fresh number from a sequence at every insert and update of the row, set by PostgreSQL's
    # trigger (core/sql/versions.py), which the response cache compares (core/versions.py).
    # SQLite keeps no versions: 0 there.
    change_version = models.BigIntegerField(default=0, db_default=0, editable=False)
    # What a search looks through, folded to one case by the database itself; the space keeps
    # a word from matching across the name's end and the location's start.
    search_text = models.GeneratedField(
        expression=Upper(Concat("name", models.Value(" "), "location")),
        output_field=models.TextField(),
        db_persist=True,
    )

    # What an organiser sets, at creation and later (core.services.create_event and
    # update_event, the API's event serializer, the admin's form); the counters are the
    # database's, the status cancel_event's.
    ORGANISER_FIELDS = (
        "name",
        "location",
        "start_time",
        "end_time",
        "max_capacity",
        "requires_approval",
    )

    class Meta:
        ordering = ["start_time", "id"]
        indexes = [
            models.Index(fields=["start_time", "id"], name="event_start_time_id"),
            # The upcoming list (scheduled events after now, in order) and its next start, read
            # from the index whatever the planner's statistics say: before a table is first
            # analysed, the planner guesses a handful of upcoming rows and would rather sort the
            # whole table than walk start_time's index past the others' statuses.
            models.Index(fields=["status", "start_time", "id"], name="event_status_start_time_id"),
            # An organiser's own events, in the list's order.
            models.Index(fields=["owner", "start_time", "id"], name="event_owner_start_time_id"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")), name="event_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(max_capacity__gte=1, max_capacity__lte=MAX_CAPACITY_LIMIT),
                name="event_capacity_in_range",
            ),
            models.CheckConstraint(
                condition=Q(seats_taken__gte=0, seats_taken__lte=F("max_capacity")),
                name="event_seats_taken_within_capacity",
            ),
            models.CheckConstraint(
                condition=Q(status__in=EventStatus.values), name="event_status_known"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if (
            not self._state.adding
            and not kwargs.get("force_insert")
            and kwargs.get("update_fields") is None
        ):
            # The counters are the triggers' to keep: an update never writes back the copy this
            # instance was loaded with, which a registration may have overtaken since.
            kwargs["update_fields"] = [
                field.attname
                for field in self._meta.concrete_fields
                if not field.primary_key and field.attname not in TRIGGER_KEPT_FIELDS
            ]
        super().save(*args, **kwargs)

    @property
    def cancelled(self) -> bool:
        return self.status == EventStatus.CANCELLED

    @property
    def seats_available(self) -> int:
        return self.max_capacity - self.seats_taken

    def clean(self) -> None:
        errors = {}
        if self.start_time and self.end_time and self.end_time <= self.start_time:
            errors["end_time"] = END_BEFORE_START_MESSAGE
        if self.max_capacity is not None and self.max_capacity < self.seats_taken:
            errors["max_capacity"] = CAPACITY_BELOW_ATTENDANCE_MESSAGE.format(
                count=self.seats_taken
            )
        if errors:
            raise ValidationError(errors)


class Attendee(models.Model):
    """One person's place at one event: a seat, or a place on its waiting list."""

    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="attendees", db_index=False
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=EMAIL_MAX_LENGTH)
    registered_at = models.DateTimeField(auto_now_add=True)
    # The waiting list is served first come first served: by id, position 1 first.
    status = models.CharField(
        max_length=10,
        choices=AttendeeStatus.choices,
        default=AttendeeStatus.REGISTERED,
        db_default=AttendeeStatus.REGISTERED,
    )
    # SHA-256 (hex) of the secret the registration was answered with; the secret itself is
    # never stored. None for rows written without one (the loader, a shell, the admin).
    token_hash = models.CharField(
        max_length=64, unique=True, null=True, blank=True, default=None, editable=False
    )
    # What the token was derived from (core/tokens.py), so an email sent later can carry it;
    # alone it yields no token. Empty for rows with no token, or with one issued before nonces.
    token_nonce = models.CharField(
        max_length=32, blank=True, default="", db_default="", editable=False
    )
    # The answers to the event's questions as given, by question id (a string): a question
    # changed or removed later leaves them as they were.
    answers = models.JSONField(default=dict, db_default={}, blank=True)
    # When its personal data (name, email, answers) was replaced by a tombstone.
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["event", "id"]
        indexes = [
            models.Index(fields=["event", "id"], name="attendee_event_id"),
            # An event's waiting list in order, without reading its seats.
            models.Index(
                fields=["event", "id"],
                condition=Q(status=AttendeeStatus.WAITLISTED),
                name="attendee_waiting_event_id",
            ),
        ]
        constraints = [
            # One place per person and event, a seat or a place on the waiting list.
            models.UniqueConstraint(
                F("event"), Lower("email"), name="attendee_unique_email_per_event"
            ),
            models.CheckConstraint(
                condition=Q(status__in=AttendeeStatus.values), name="attendee_status_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    @property
    def waitlisted(self) -> bool:
        return self.status == AttendeeStatus.WAITLISTED

    @property
    def pending(self) -> bool:
        return self.status == AttendeeStatus.PENDING


class QuestionKind(models.TextChoices):
    """What an answer to a question is."""

    TEXT = "text"
    CHOICE = "choice"
    MULTIPLE_CHOICE = "multiple_choice"
    BOOLEAN = "boolean"


class Question(models.Model):
    """Something an event asks each registrant; answered in Attendee.answers under its id."""

    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="questions", db_index=False
    )
    label = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=QuestionKind.choices)
    # The options of a choice or multiple_choice question, as shown; empty for the others.
    choices = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=False)
    # The longest text answer taken; none: no bound but the request's.
    max_length = models.PositiveIntegerField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["event", "position", "id"]
        indexes = [
            models.Index(fields=["event", "position", "id"], name="question_event_position"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=QuestionKind.values), name="question_kind_known"
            ),
        ]

    def __str__(self) -> str:
        return self.label


class ErasureRecord(models.Model):
    """That personal data was erased: which event, how many registrations, when and why;
    never whose."""

    # The event's id, kept if the event is deleted later.
    event_id = models.BigIntegerField()
    count = models.PositiveIntegerField()
    erased_at = models.DateTimeField(auto_now_add=True)
    # "retention" (the worker's pass), "attendee" (by their token), "staff" (the admin).
    reason = models.CharField(max_length=20)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.count} erased from event {self.event_id} ({self.reason})"


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key for one endpoint, and the answer its request got.

    Written in the transaction of the request's own effect, so a committed effect always has
    its answer here; kept until `expires_at` for replays. The answer may hold secrets (a
    registration's token): no admin page shows it, and expired rows are deleted
    (`manage.py purge_idempotency_keys`).
    """

    # The operation ("event.register") and who called it ("user:12", "address:203.0.113.7").
    scope = models.CharField(max_length=100)
    caller = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    # SHA-256 of the request's method, path with query, and body.
    fingerprint = models.CharField(max_length=64)
    # The answer; null only inside the claiming transaction, before the action has answered.
    status_code = models.PositiveSmallIntegerField(null=True)
    headers = models.JSONField(default=dict)
    body = models.BinaryField(default=b"")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            # A concurrent twin's claim waits on this index until the first commits or fails.
            models.UniqueConstraint(
                fields=["scope", "caller", "key"], name="idempotency_key_unique_per_caller"
            ),
        ]
        indexes = [models.Index(fields=["expires_at"], name="idempotency_key_expires_at")]

    def __str__(self) -> str:
        # Never the answer: it may hold a secret.
        return f"{self.scope} {self.caller} {self.key!r}"


class MessageKind(models.TextChoices):
    """What an email tells its recipient."""

    REGISTERED = "registered", "seat confirmed"
    WAITLISTED = "waitlisted", "on the waiting list"
    PROMOTED = "promoted", "promoted to a seat"
    CANCELLED = "cancelled", "registration cancelled"
    REMOVED = "removed", "removed by the organiser"
    EVENT_CHANGED = "event_changed", "event changed"
    EVENT_CANCELLED = "event_cancelled", "event cancelled"
    PENDING = "pending", "awaiting approval"
    APPROVED = "approved", "approved"
    DECLINED = "declined", "declined"


class MessageStatus(models.TextChoices):
    """Where an email is on its way out."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    # Not sent: by the time it was due, the registration it was about was gone, or (a waiting
    # place) had become a seat, which the promotion's email tells.
    SKIPPED = "skipped"


class OutgoingMessage(models.Model):
    """One email to send, written in the transaction of the change that causes it: the outbox,
    and the worker's queue (core/outbox.py).

    It holds who gets it and what it is about; the text is rendered when it is sent, from the
    rows as they are then. The worker sends it at least once: a crash between the mail server's
    acceptance and recording `sent` sends it again.
    """

    kind = models.CharField(max_length=20, choices=MessageKind.choices)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="messages")
    # The registration it is about; no foreign key, as a cancellation's row is gone by sending.
    attendee_id = models.BigIntegerField(null=True, blank=True)
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=EMAIL_MAX_LENGTH)
    # Whether the registration held a seat, for a cancellation: its invite is then withdrawn.
    seated = models.BooleanField(default=False)
    # The organiser's words, for a declined request; empty otherwise.
    note = models.TextField(blank=True, default="", db_default="")
    status = models.CharField(
        max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # When a worker may take it next (the database's clock): on queueing; after a failure, the
    # back-off later; once claimed, when the claim's lease runs out (its worker died).
    available_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "id"], name="outgoing_message_status_id"),
            # The worker's claim: the queued messages, soonest due first.
            models.Index(
                fields=["available_at", "id"],
                condition=Q(status=MessageStatus.QUEUED),
                name="outgoing_message_due",
            ),
            # The mailbox cap's count (core/outbox.py): one mailbox's sends of the last hour,
            # whatever the outbox has grown to.
            models.Index(
                Lower("email"),
                "sent_at",
                condition=Q(status=MessageStatus.SENT),
                name="outgoing_message_mailbox_sent",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=MessageStatus.values), name="outgoing_message_status_known"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=MessageKind.values), name="outgoing_message_kind_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.email}"


class Device(models.Model):
    """A door scanner's credential for one event: it may check in there, and nothing else.

    Its bearer token is shown once; only knox's hash of it is kept (api/authentication.py). It
    works until revoked or until DEVICE_GRACE after the event ends.
    """

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="devices")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=128, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by revoking it; the row stays, so its check-ins still say where they happened.
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["event", "id"]

    def __str__(self) -> str:
        return self.name


class CheckIn(models.Model):
    """One registration admitted at the door: at most one row per registration, ever."""

    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="checkins", db_index=False
    )
    # The ticket's registration (an Attendee's id). No foreign key: an admission stays a fact
    # when the registration is cancelled afterwards.
    registration_id = models.BigIntegerField()
    name = models.CharField(max_length=200)
    # Who admitted: a device, or a signed-in organiser or staff member (both may be gone).
    device = models.ForeignKey(Device, on_delete=models.SET_NULL, null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    checked_in_at = models.DateTimeField()
    # Scanned while the device was offline and uploaded later (checked_in_at is the scan's).
    offline = models.BooleanField(default=False)

    class Meta:
        ordering = ["event", "checked_in_at", "id"]
        indexes = [
            models.Index(fields=["event", "checked_in_at"], name="checkin_event_time"),
        ]
        constraints = [
            # Exactly once: concurrent gates inserting for one ticket meet here, in the index.
            models.UniqueConstraint(fields=["registration_id"], name="checkin_once_per_ticket"),
        ]

    def __str__(self) -> str:
        return f"{self.name} at {self.checked_in_at:%Y-%m-%d %H:%M}"


class CheckInScan(models.Model):
    """A scan's nonce and the verdict it got: the same nonce from the same caller again gets
    that verdict again, without a second admission (a scanner retrying after a timeout)."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+", db_index=False)
    # "device:7" or "user:3": a nonce is the caller's own.
    caller = models.CharField(max_length=40)
    nonce = models.CharField(max_length=100)
    # SHA-256 of the ticket scanned: the same nonce with another ticket is a client's bug.
    ticket_hash = models.CharField(max_length=64)
    outcome = models.CharField(max_length=20)
    # The admission the verdict names (new, or the earlier one), as it was then.
    admission = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event", "caller", "nonce"], name="checkin_scan_nonce_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.caller} {self.nonce}: {self.outcome}"


class CheckInConflict(models.Model):
    """One ticket admitted twice at the door (scanners offline): the earlier admission stands as
    the check-in, the later is recorded here for the organiser."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="checkin_conflicts")
    registration_id = models.BigIntegerField()
    name = models.CharField(max_length=200)
    first_device = models.ForeignKey(
        Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    first_at = models.DateTimeField()
    again_device = models.ForeignKey(
        Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    again_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["event", "id"]

    def __str__(self) -> str:
        return f"{self.name} admitted twice"


class RevocationReason(models.TextChoices):
    """Why a ticket was withdrawn."""

    CANCELLED = "cancelled"
    REMOVED = "removed"
    EVENT_CANCELLED = "event_cancelled"


class RevokedTicket(models.Model):
    """A seat's ticket withdrawn: an offline scanner downloads these to refuse them."""

    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="revoked_tickets", db_index=False
    )
    registration_id = models.BigIntegerField()
    reason = models.CharField(max_length=20, choices=RevocationReason.choices)
    revoked_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["event", "revoked_at", "id"]
        indexes = [
            models.Index(fields=["event", "revoked_at"], name="revoked_ticket_event_time"),
        ]

    def __str__(self) -> str:
        return f"ticket of registration {self.registration_id} ({self.reason})"


class WebhookEventType(models.TextChoices):
    """What a webhook message says happened; an endpoint subscribes to some of these.

    Adding a happening is one line here, and a call of core.webhooks.publish_event (or a
    mapping in core.webhooks.REGISTRATION_TYPES, or core.webhooks.publish_checkins) where it
    happens."""

    REGISTRATION_CREATED = "registration.created"
    REGISTRATION_WAITLISTED = "registration.waitlisted"
    REGISTRATION_PROMOTED = "registration.promoted"
    REGISTRATION_CANCELLED = "registration.cancelled"
    REGISTRATION_REMOVED = "registration.removed"
    EVENT_CREATED = "event.created"
    EVENT_UPDATED = "event.updated"
    EVENT_CANCELLED = "event.cancelled"
    CHECKIN_CREATED = "checkin.created"
    CHECKIN_REVERTED = "checkin.reverted"


# A test delivery to one endpoint (POST /api/webhooks/{id}/ping/); nobody subscribes to it.
WEBHOOK_PING = "webhook.ping"


class WebhookEndpoint(models.Model):
    """A URL an organiser wants told what happens at their events (staff's: at every event),
    signed with `secret` (Standard Webhooks: `whsec_` and the key in Base64).

    After a rotation the previous secret signs beside the new one until
    `previous_secret_expires_at`, so a receiver can switch without missing a message."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2000)
    # The WebhookEventType values it receives.
    event_types = models.JSONField(default=list)
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, default="", editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Switched off by its owner, by a `410 Gone`, or after failing for the whole retry window;
    # it gets no new deliveries while off.
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url


class WebhookMessage(models.Model):
    """One happening, as every endpoint subscribed to it is told: its `uid` is the
    `webhook-id` of every delivery and retry of it, so receivers deduplicate.

    Written in the transaction of the change (event.*, checkin.*), or by the worker from the
    email outbox's row of the change (registration.*: core.webhooks.publish_registrations), so
    that a registration stays one row. The worker fans it out to one WebhookDelivery per endpoint,
    then marks it `fanned_out`, in one transaction."""

    uid = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=40)
    event = models.ForeignKey(
        Event, on_delete=models.SET_NULL, null=True, blank=True, related_name="webhook_messages"
    )
    # The object as its owner's API shows it, when it happened.
    data = models.JSONField(default=dict)
    occurred_at = models.DateTimeField()
    # The email outbox row it was published from (registration.*), once only.
    source_message_id = models.BigIntegerField(null=True, blank=True, unique=True)
    fanned_out = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["id"], condition=Q(fanned_out=False), name="webhook_message_new"),
            models.Index(fields=["created_at"], name="webhook_message_created_at"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.uid}"


class WebhookDeliveryStatus(models.TextChoices):
    """Where one message is on its way to one endpoint."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    """One message to one endpoint: pending until a 2xx answer, failed once retries ran out
    (or the endpoint answered `410 Gone`). Each try is a WebhookAttempt."""

    message = models.ForeignKey(WebhookMessage, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    status = models.CharField(
        max_length=10,
        choices=WebhookDeliveryStatus.choices,
        default=WebhookDeliveryStatus.PENDING,
    )
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # Retries run out once this has passed (the retry window from the first try, or from a
    # redelivery).
    retry_until = models.DateTimeField(null=True, blank=True)
    # When the worker may try next (the database's clock): after a failure, the back-off;
    # once claimed, when the claim's lease runs out.
    available_at = models.DateTimeField(db_default=Now())
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # An endpoint's queue in order: the worker sends its oldest pending delivery only.
            models.Index(
                fields=["endpoint", "id"],
                condition=Q(status=WebhookDeliveryStatus.PENDING),
                name="webhook_delivery_pending",
            ),
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_endpoint"),
        ]
        constraints = [
            # Fanning out twice (a worker killed after its transaction) adds nothing.
            models.UniqueConstraint(
                fields=["message", "endpoint"], name="webhook_delivery_once_per_endpoint"
            ),
            models.CheckConstraint(
                condition=Q(status__in=WebhookDeliveryStatus.values),
                name="webhook_delivery_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message} to {self.endpoint}"


class WebhookAttempt(models.Model):
    """One try at a delivery, kept for its owner to read: when, the answer's status and first
    bytes, how long it took, or the error that stopped it."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_body = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    # How it ended: `delivered`, `retried` (tried again later) or `failed` (for good); what the
    # metrics count (event_management_system/ops/metrics.py).
    outcome = models.CharField(max_length=10, default="")

    class Meta:
        ordering = ["delivery", "id"]

    def __str__(self) -> str:
        return f"attempt at {self.attempted_at} ({self.status_code or self.error})"
