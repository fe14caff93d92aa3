"""The OpenAPI description of webhook endpoints: registering, reading, changing and deleting
them, rotating a secret, a test delivery, and their deliveries read and redelivered."""

from datetime import timedelta

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema_view,
)

from api.exceptions import NOT_FOUND_MESSAGE
from api.openapi import (
    PAGE_NOT_FOUND,
    PAGE_PARAMETERS,
    ErrorCase,
    documented,
    invalid,
    not_authenticated,
    permission_denied,
    rate_in_words,
    throttled,
)
from api.pagination import PAGE_SIZE_MESSAGE
from api.webhooks.serializers import (
    NewSecretSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointSerializer,
)
from core.webhooks import HTTPS_REQUIRED_MESSAGE

ENDPOINT_NOT_FOUND_MESSAGE = "No webhook endpoint exists with this id."
DELIVERY_NOT_FOUND_MESSAGE = "This webhook endpoint has no delivery with this id."

WEBHOOK_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The webhook endpoint's id."
)
DELIVERY_ID = OpenApiParameter(
    "delivery_id",
    OpenApiTypes.INT,
    OpenApiParameter.PATH,
    description="The delivery's id, as the endpoint's deliveries list it.",
)
ENDPOINT_NOT_FOUND = ErrorCase(
    404, "not_found", "No webhook endpoint has this id.", ENDPOINT_NOT_FOUND_MESSAGE,
    label="no such endpoint",
)  # fmt: skip
DELIVERY_NOT_FOUND = ErrorCase(
    404, "not_found", "The endpoint has no delivery with this id.", DELIVERY_NOT_FOUND_MESSAGE,
    label="no such delivery",
)  # fmt: skip
NO_SUCH_ADDRESS = ErrorCase(
    404, "not_found", "An id is not a whole number, so nothing exists at this address.",
    NOT_FOUND_MESSAGE, label="no such address",
)  # fmt: skip
NOT_SIGNED_IN = not_authenticated("No token was sent.")
NOT_ORGANISER = permission_denied("The token's user is not an organiser.")
NOT_OWNER = permission_denied("The token's user neither owns this endpoint nor is staff.")
ORGANISE_BUDGET = throttled(
    f"organisers' changes per user ({rate_in_words('organise')} unless configured otherwise)"
)
BAD_ENDPOINT = invalid(
    "`url` is missing, not a URL, not `https://` (unless the server allows `http://`), holds "
    "credentials, does not resolve, or resolves to a loopback, private, link-local or other "
    "non-public address (checked again at every delivery); or `events` is empty or names an "
    "unknown type.",
    url=[HTTPS_REQUIRED_MESSAGE],
)
ENDPOINT_EXAMPLE = {
    "id": 3,
    "url": "https://crm.example.com/hooks/events",
    "events": ["registration.created", "registration.cancelled"],
    "enabled": True,
    "disabled_reason": "",
    "owner": 12,
    "previous_secret_expires_at": None,
    "created_at": "2030-11-29T12:00:00.123456Z",
}
SECRET_EXAMPLE = {**ENDPOINT_EXAMPLE, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
DELIVERY_EXAMPLE = {
    "id": 871,
    "webhook_id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
    "type": "registration.created",
    "status": "delivered",
    "attempt_count": 2,
    "next_attempt_at": None,
    "delivered_at": "2030-11-29T12:00:07.412000Z",
    "created_at": "2030-11-29T12:00:00.215000Z",
    "payload": {
        "type": "registration.created",
        "timestamp": "2030-11-29T12:00:00.123456Z",
        "data": {
            "id": 22,
            "event": 10,
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "status": "registered",
            "registered_at": "2030-11-29T12:00:00.123456Z",
        },
    },  # fmt: skip
    "attempts": [
        {
            "attempted_at": "2030-11-29T12:00:01.002000Z",
            "status_code": 503,
            "duration_ms": 41,
            "response_body": "Service Unavailable",
            "error": "",
        },
        {
            "attempted_at": "2030-11-29T12:00:07.380000Z",
            "status_code": 200,
            "duration_ms": 32,
            "response_body": "ok",
            "error": "",
        },
    ],  # fmt: skip
}
FOR_OWNER = (
    "For organisers, with a token: an endpoint is its owner's (staff manage every one); "
    "another organiser's endpoint answers 403."
)

webhook_viewset_schema = extend_schema_view(
    list=documented(
        operation_id="webhooks_list",
        summary="List webhook endpoints",
        description="The caller's webhook endpoints (staff: every one), oldest first, a page "
        "at a time. Secrets are never shown here.",
        responses={200: OpenApiResponse(WebhookEndpointSerializer(many=True), "A page.")},
        parameters=PAGE_PARAMETERS,
        errors=[
            NOT_SIGNED_IN,
            NOT_ORGANISER,
            PAGE_NOT_FOUND,
            invalid("`page_size` is not a whole number from 1.", page_size=[PAGE_SIZE_MESSAGE]),
        ],  # fmt: skip
        examples=[OpenApiExample("An endpoint", value=ENDPOINT_EXAMPLE, response_only=True)],
    ),
    create=documented(
        operation_id="webhooks_create",
        summary="Register a webhook endpoint",
        description=(
            "The endpoint is told, by a signed POST, each happening of `events` at the caller's "
            "events (staff's: at every event). Messages follow the Standard Webhooks "
            "specification: headers `webhook-id` (the same for every retry: deduplicate by it), "
            "`webhook-timestamp` and `webhook-signature` (`v1,<Base64 HMAC-SHA256>` of "
            "`<id>.<timestamp>.<body>` with the secret), a body `{type, timestamp, data}`, "
            "`data` the object as this API shows it to the owner (emails included). Delivered "
            "at least once and one at a time, in order, per endpoint; retried on timeouts, "
            "connection errors, 429 and 5xx with exponential back-off and jitter for "
            f"{settings.WEBHOOK_RETRY_WINDOW / timedelta(hours=1):g} hours "
            "(`DJANGO_WEBHOOK_RETRY_HOURS`); `410 Gone` switches the endpoint off.\n\n"
            "The answer holds the signing `secret`, shown this once (and on rotation)."
        ),
        request=WebhookEndpointSerializer,
        responses={201: OpenApiResponse(NewSecretSerializer, "Registered, with its secret.")},
        errors=[BAD_ENDPOINT, NOT_SIGNED_IN, NOT_ORGANISER, ORGANISE_BUDGET],
        examples=[
            OpenApiExample(
                "Registrations to a CRM",
                value={
                    "url": ENDPOINT_EXAMPLE["url"],
                    "events": ["registration.created", "registration.cancelled"],
                },
                request_only=True,
            ),
            OpenApiExample("Registered", value=SECRET_EXAMPLE, response_only=True),
        ],
    ),
    retrieve=documented(
        operation_id="webhooks_retrieve",
        summary="Read a webhook endpoint",
        description=f"{FOR_OWNER} The secret is not shown.",
        responses={200: OpenApiResponse(WebhookEndpointSerializer, "The endpoint.")},
        parameters=[WEBHOOK_ID],
        errors=[NOT_SIGNED_IN, NOT_OWNER, ENDPOINT_NOT_FOUND, NO_SUCH_ADDRESS],
        examples=[OpenApiExample("An endpoint", value=ENDPOINT_EXAMPLE, response_only=True)],
    ),
    partial_update=documented(
        operation_id="webhooks_partial_update",
        summary="Change a webhook endpoint",
        description=(
            f"{FOR_OWNER} Send only what changes: `url`, `events`, `enabled`. Switching an "
            "endpoint on again sends what waited for it, in order."
        ),
        request=WebhookEndpointSerializer,
        responses={200: OpenApiResponse(WebhookEndpointSerializer, "The endpoint.")},
        parameters=[WEBHOOK_ID],
        errors=[
            BAD_ENDPOINT,
            NOT_SIGNED_IN,
            NOT_OWNER,
            ENDPOINT_NOT_FOUND,
            NO_SUCH_ADDRESS,
            ORGANISE_BUDGET,
        ],  # fmt: skip
        examples=[
            OpenApiExample("Switch it on", value={"enabled": True}, request_only=True),
            OpenApiExample("The endpoint", value=ENDPOINT_EXAMPLE, response_only=True),
        ],
    ),
    destroy=documented(
        operation_id="webhooks_destroy",
        summary="Delete a webhook endpoint",
        description=f"{FOR_OWNER} Its deliveries go with it; nothing more is sent to it.",
        responses={204: OpenApiResponse(description="Deleted.")},
        parameters=[WEBHOOK_ID],
        errors=[NOT_SIGNED_IN, NOT_OWNER, ENDPOINT_NOT_FOUND, NO_SUCH_ADDRESS, ORGANISE_BUDGET],
    ),
    rotate_secret=documented(
        operation_id="webhooks_rotate_secret",
        summary="Rotate a webhook endpoint's secret",
        description=(
            f"{FOR_OWNER} A new secret, shown in this answer only. For 24 hours the previous "
            "secret signs beside it (two signatures in `webhook-signature`), so receivers "
            "switch without missing a message; then the new one alone."
        ),
        request=None,
        responses={200: OpenApiResponse(NewSecretSerializer, "The endpoint, its new secret.")},
        parameters=[WEBHOOK_ID],
        errors=[NOT_SIGNED_IN, NOT_OWNER, ENDPOINT_NOT_FOUND, NO_SUCH_ADDRESS, ORGANISE_BUDGET],
        examples=[OpenApiExample("Rotated", value=SECRET_EXAMPLE, response_only=True)],
    ),
    ping=documented(
        operation_id="webhooks_ping",
        summary="Send a test delivery",
        description=(
            f"{FOR_OWNER} Queues a `webhook.ping` message to this endpoint alone, signed like "
            "every other and sent in turn; its attempts show in the deliveries."
        ),
        request=None,
        responses={202: OpenApiResponse(WebhookDeliverySerializer, "Queued.")},
        parameters=[WEBHOOK_ID],
        errors=[NOT_SIGNED_IN, NOT_OWNER, ENDPOINT_NOT_FOUND, NO_SUCH_ADDRESS, ORGANISE_BUDGET],
        examples=[
            OpenApiExample(
                "Queued",
                value={
                    **DELIVERY_EXAMPLE,
                    "type": "webhook.ping",
                    "status": "pending",
                    "attempt_count": 0,
                    "attempts": [],
                    "delivered_at": None,
                },
                response_only=True,
                status_codes=[202],
            )
        ],
    ),
    deliveries=documented(
        operation_id="webhooks_deliveries",
        summary="List a webhook endpoint's deliveries",
        description=(
            f"{FOR_OWNER} Newest first, each with every attempt (when, the status, how long, "
            f"the answer's first 2 KiB, the error), kept {settings.WEBHOOK_LOG_AGE.days} days "
            "(`DJANGO_WEBHOOK_LOG_DAYS`)."
        ),
        responses={200: OpenApiResponse(WebhookDeliverySerializer(many=True), "A page.")},
        parameters=[WEBHOOK_ID, *PAGE_PARAMETERS],
        errors=[
            NOT_SIGNED_IN,
            NOT_OWNER,
            ENDPOINT_NOT_FOUND,
            NO_SUCH_ADDRESS,
            PAGE_NOT_FOUND,
            invalid("`page_size` is not a whole number from 1.", page_size=[PAGE_SIZE_MESSAGE]),
        ],  # fmt: skip
        examples=[OpenApiExample("A delivery", value=DELIVERY_EXAMPLE, response_only=True)],
    ),
    redeliver=documented(
        operation_id="webhooks_redeliver",
        summary="Redeliver a message",
        description=(
            f"{FOR_OWNER} Sends the delivery again, whatever became of it, with the same "
            "`webhook-id` and body: pending at once, before the endpoint's later deliveries, "
            "with a fresh retry window."
        ),
        request=None,
        responses={202: OpenApiResponse(WebhookDeliverySerializer, "Queued again.")},
        parameters=[WEBHOOK_ID, DELIVERY_ID],
        errors=[
            NOT_SIGNED_IN,
            NOT_OWNER,
            ENDPOINT_NOT_FOUND,
            DELIVERY_NOT_FOUND,
            NO_SUCH_ADDRESS,
            ORGANISE_BUDGET,
        ],  # fmt: skip
        examples=[
            OpenApiExample(
                "Queued again",
                value={**DELIVERY_EXAMPLE, "status": "pending", "attempt_count": 0},
                response_only=True,
                status_codes=[202],
            )
        ],
    ),
)
