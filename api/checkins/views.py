"""Check-in at the door: an event's devices, its ticket key and withdrawn tickets, admitting a
ticket (online, or a batch uploaded from an offline scanner), undoing an admission, the double
admissions and the arrivals; actions on an event, composed into api.events.views.EventViewSet.
Every rule is core.checkin's (reached through core.services)."""

import base64
import re
from datetime import timedelta

from django.utils import timezone
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api.checkins.schema import (
    batch_schema,
    check_in_schema,
    conflicts_schema,
    create_device_schema,
    devices_schema,
    public_key_schema,
    revoke_device_schema,
    revoked_schema,
    stats_schema,
    undo_check_in_schema,
)
from api.checkins.serializers import (
    AdmissionSerializer,
    BatchResultSerializer,
    BatchSerializer,
    ConflictSerializer,
    DeviceSerializer,
    IssuedDeviceSerializer,
    NewDeviceSerializer,
    PublicKeySerializer,
    RevokedListSerializer,
    ScanSerializer,
    StatsSerializer,
)
from api.datetimes import InvalidDateTime, parse_aware_datetime
from api.parsers import BatchJSONParser
from api.permissions import IsEventDevice, IsEventOwnerOrStaff
from api.tokens import issue_device_token
from core.checkin import revoked_since
from core.exceptions import DomainError
from core.models import Device
from core.selectors import arrivals, checked_in_count, checkin_conflicts
from core.services import (
    Caller,
    CheckInOutcome,
    OfflineScan,
    check_in_ticket,
    create_device,
    revoke_device,
    sync_offline_scans,
    undo_check_in,
)
from core.tickets import TICKET_LENGTH, issue_ticket, public_key, public_key_pem
from event_management_system.ops.metrics import count_checkin

# A withdrawal committed while the list was read may carry a time just before the read.
REVOKED_OVERLAP = timedelta(minutes=1)
BUCKET_FORMAT = re.compile(r"([1-9][0-9]{0,3})([mh])")
BUCKET_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1)}
MAX_BUCKET = timedelta(days=1)
INVALID_BUCKET_MESSAGE = "Enter a bucket of minutes or hours up to a day, e.g. 1m, 5m, 15m, 1h."
TICKET_FORMAT = (
    f"{TICKET_LENGTH} characters of URL-safe Base64 (no padding) of 81 bytes: version (1), event "
    "id and registration id (8 bytes each, big-endian), then the Ed25519 signature of those 17."
)


class EventCheckInMixin:
    """An event's door: devices (owner and staff), admitting tickets (owner, staff and the
    event's own devices), and what a scanner needs to work offline."""

    _door = [IsEventOwnerOrStaff | IsEventDevice]
    permission_classes_by_action = {
        "devices": [IsEventOwnerOrStaff],
        "create_device": [IsEventOwnerOrStaff],
        "revoke_device": [IsEventOwnerOrStaff],
        "checkin_key": _door,
        "revoked": _door,
        "check_in": _door,
        "check_in_batch": _door,
        "undo_check_in": _door,
        "conflicts": _door,
        "checkin_stats": _door,
    }
    event_fields_by_action = {action: ("owner_id",) for action in permission_classes_by_action} | {
        "checkin_stats": ("owner_id", "seats_taken")
    }

    # Devices

    @devices_schema
    @action(detail=True, methods=["get"], serializer_class=DeviceSerializer)
    def devices(self, request, pk=None):
        """The event's door devices, revoked ones too, oldest first, paginated."""
        event = self.get_object()
        page = self.paginate_queryset(Device.objects.filter(event_id=event.pk).order_by("id"))
        return self.get_paginated_response(DeviceSerializer(page, many=True).data)

    @create_device_schema
    @devices.mapping.post
    def create_device(self, request, pk=None):
        """Create a door device: 201 with its token, shown once."""
        event = self.get_object()
        serializer = NewDeviceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, digest = issue_device_token()
        device = create_device(
            event_id=event.pk, name=serializer.validated_data["name"], token_hash=digest
        )
        answer = {"id": device.pk, "name": device.name, "token": token}
        return Response(IssuedDeviceSerializer(answer).data, status=status.HTTP_201_CREATED)

    @revoke_device_schema
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"devices/(?P<device_id>[0-9]+)",
        serializer_class=DeviceSerializer,
    )
    def revoke_device(self, request, pk=None, device_id=None):
        """Revoke a device: its token stops working at once."""
        revoke_device(event_id=self.get_object().pk, device_id=int(device_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

    # What a scanner keeps for working offline

    @public_key_schema
    @action(
        detail=True, methods=["get"], url_path="checkin/key", serializer_class=PublicKeySerializer
    )
    def checkin_key(self, request, pk=None):
        """The event's public key, which verifies its tickets offline."""
        event_id = self._door_event_id()
        raw = base64.urlsafe_b64encode(public_key(event_id=event_id)).decode().rstrip("=")
        answer = {
            "event": event_id,
            "algorithm": "Ed25519",
            "public_key": raw,
            "public_key_pem": public_key_pem(event_id=event_id),
            "ticket_format": TICKET_FORMAT,
        }
        return Response(PublicKeySerializer(answer).data)

    @revoked_schema
    @action(
        detail=True,
        methods=["get"],
        url_path="checkin/revoked",
        serializer_class=RevokedListSerializer,
    )
    def revoked(self, request, pk=None):
        """The event's withdrawn tickets, since `since` when given."""
        event_id = self._door_event_id()
        since = request.query_params.get("since")
        if since is not None:
            try:
                since = parse_aware_datetime(since)
            except InvalidDateTime as error:
                raise ValidationError({"since": [error.message]}, code=error.code) from None
        now = timezone.now()
        revoked = [
            {
                "registration": row.registration_id,
                "ticket": issue_ticket(event_id=event_id, registration_id=row.registration_id),
                "reason": row.reason,
                "revoked_at": row.revoked_at,
            }
            for row in revoked_since(event_id=event_id, since=since)
        ]
        answer = {"revoked": revoked, "next_since": now - REVOKED_OVERLAP}
        return Response(RevokedListSerializer(answer).data)

    # Admitting

    @check_in_schema
    @action(detail=True, methods=["post"], url_path="checkins", serializer_class=ScanSerializer)
    def check_in(self, request, pk=None):
        """Admit a ticket's holder: 201 the first time; 409 after; 400 for a forgery."""
        event_id = self._door_event_id()
        serializer = ScanSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            admission = check_in_ticket(
                event_id=event_id, caller=self._caller(), **serializer.validated_data
            )
        except DomainError as error:
            outcome = CheckInOutcome.of_refusal(error)
            if outcome is not None:
                count_checkin(outcome.value)
            raise
        count_checkin(CheckInOutcome.ADMITTED.value)
        return Response(
            AdmissionSerializer(admission.as_dict()).data, status=status.HTTP_201_CREATED
        )

    @batch_schema
    @action(
        detail=True,
        methods=["post"],
        url_path="checkins/batch",
        serializer_class=BatchSerializer,
        parser_classes=[BatchJSONParser],
    )
    def check_in_batch(self, request, pk=None):
        """Upload the scans a device made offline: each one's outcome, in order."""
        event_id = self._door_event_id()
        serializer = BatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        scans = [OfflineScan(**scan) for scan in serializer.validated_data["scans"]]
        outcomes = sync_offline_scans(event_id=event_id, scans=scans, caller=self._caller())
        for outcome in outcomes:
            count_checkin(outcome.value)
        results = [
            {"nonce": scan.nonce, "outcome": outcome.value}
            for scan, outcome in zip(scans, outcomes, strict=True)
        ]
        return Response(BatchResultSerializer({"results": results}).data)

    @undo_check_in_schema
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"checkins/(?P<checkin_id>[0-9]+)",
        serializer_class=AdmissionSerializer,
    )
    def undo_check_in(self, request, pk=None, checkin_id=None):
        """Undo a mistaken admission: the ticket may be checked in again."""
        undo_check_in(event_id=self._door_event_id(), checkin_id=int(checkin_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

    # Watching

    @conflicts_schema
    @action(
        detail=True,
        methods=["get"],
        url_path="checkins/conflicts",
        serializer_class=ConflictSerializer,
    )
    def conflicts(self, request, pk=None):
        """Each ticket admitted twice, as the offline scanners reported it, paginated."""
        event_id = self._door_event_id()
        page = self.paginate_queryset(checkin_conflicts(event_id=event_id))
        answer = [
            {
                "id": conflict.pk,
                "registration": conflict.registration_id,
                "ticket": issue_ticket(event_id=event_id, registration_id=conflict.registration_id),
                "name": conflict.name,
                "first": {"device": _device(conflict.first_device), "at": conflict.first_at},
                "again": {"device": _device(conflict.again_device), "at": conflict.again_at},
                "recorded_at": conflict.recorded_at,
            }
            for conflict in page
        ]
        return self.get_paginated_response(ConflictSerializer(answer, many=True).data)

    @stats_schema
    @action(
        detail=True, methods=["get"], url_path="checkins/stats", serializer_class=StatsSerializer
    )
    def checkin_stats(self, request, pk=None):
        """Checked in of seats, and arrivals per bucket of time."""
        bucket_text = request.query_params.get("bucket", "5m")
        bucket = _bucket(bucket_text)
        event = self.get_object()
        count = checked_in_count(event_id=event.pk)
        answer = {
            "checked_in_count": count,
            "seats_taken": event.seats_taken,
            "not_yet_arrived": max(event.seats_taken - count, 0),
            "conflicts": checkin_conflicts(event_id=event.pk).count(),
            "bucket": bucket_text,
            "arrivals": [
                {"start": start, "count": n}
                for start, n in arrivals(event_id=event.pk, bucket=bucket)
            ],
        }
        return Response(StatsSerializer(answer).data)

    def _door_event_id(self) -> int:
        """The event of the address, its caller allowed at its door. A device's permission was
        decided from its own row: no read of the event (a forged ticket costs one query, the
        device's)."""
        if isinstance(self.request.auth, Device):
            return self.request.auth.event_id
        return self.get_object().pk

    def _caller(self) -> Caller:
        device = self.request.auth
        if isinstance(device, Device):
            return Caller(device_id=device.pk, device_name=device.name)
        return Caller(user_id=self.request.user.pk)


def _device(device: Device | None) -> dict | None:
    return None if device is None else {"id": device.pk, "name": device.name}


def _bucket(text: str) -> timedelta:
    match = BUCKET_FORMAT.fullmatch(text)
    if match is None:
        raise ValidationError({"bucket": [INVALID_BUCKET_MESSAGE]})
    bucket = int(match[1]) * BUCKET_UNITS[match[2]]
    if bucket > MAX_BUCKET:
        raise ValidationError({"bucket": [INVALID_BUCKET_MESSAGE]})
    return bucket
