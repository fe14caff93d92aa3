"""Webhook endpoints: register, list, read, change and delete them, rotate a secret, send a
test, and read and redeliver their deliveries. Every rule is core.services' and
core/webhooks.py's."""

from django.http import Http404
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from api.permissions import IsWebhookOwnerOrStaff
from api.webhooks.schema import (
    DELIVERY_NOT_FOUND_MESSAGE,
    ENDPOINT_NOT_FOUND_MESSAGE,
    webhook_viewset_schema,
)
from api.webhooks.serializers import (
    NewSecretSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointSerializer,
)
from core.models import WebhookDelivery, WebhookEndpoint
from core.selectors import endpoint_deliveries, webhook_endpoints_visible_to
from core.services import (
    create_webhook_endpoint,
    delete_webhook_endpoint,
    ping_webhook_endpoint,
    redeliver_webhook,
    rotate_webhook_secret,
    update_webhook_endpoint,
)


@webhook_viewset_schema
class WebhookEndpointViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """An organiser's webhook endpoints (staff: everyone's), and their deliveries."""

    serializer_class = WebhookEndpointSerializer
    permission_classes = [IsWebhookOwnerOrStaff]
    lookup_value_regex = r"[0-9]+"
    # The request budget each write spends (api/throttling.py); reads spend none.
    throttle_scopes = {
        "create": "organise",
        "partial_update": "organise",
        "destroy": "organise",
        "rotate_secret": "organise",
        "ping": "organise",
        "redeliver": "organise",
    }

    @property
    def throttle_scope(self) -> str | None:
        return self.throttle_scopes.get(self.action)

    def get_queryset(self):
        if self.action == "list":
            return webhook_endpoints_visible_to(self.request.user)
        # Anyone's: ownership is the permission's to decide, answered 403 like an event's.
        return WebhookEndpoint.objects.all()

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            raise NotFound(ENDPOINT_NOT_FOUND_MESSAGE) from None

    def create(self, request, *args, **kwargs):
        """Register an endpoint, owned by the caller: 201 with its secret, shown this once."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = create_webhook_endpoint(owner=request.user, **serializer.validated_data)
        return Response(NewSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        """Change the fields sent: `url`, `events`, `enabled`."""
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        endpoint = update_webhook_endpoint(
            endpoint_id=serializer.instance.pk, **serializer.validated_data
        )
        return Response(self.get_serializer(endpoint).data)

    def destroy(self, request, *args, **kwargs):
        """Delete the endpoint with its deliveries; nothing more is sent to it."""
        delete_webhook_endpoint(endpoint_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new secret, shown once; the old one signs beside it for 24 hours."""
        endpoint = rotate_webhook_secret(endpoint_id=self.get_object().pk)
        return Response(NewSecretSerializer(endpoint).data)

    @action(detail=True, methods=["post"])
    def ping(self, request, pk=None):
        """Queue a test delivery (`webhook.ping`) to this endpoint: 202 with it."""
        delivery = ping_webhook_endpoint(endpoint_id=self.get_object().pk)
        delivery = endpoint_deliveries(endpoint_id=delivery.endpoint_id).get(pk=delivery.pk)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["get"], serializer_class=WebhookDeliverySerializer)
    def deliveries(self, request, pk=None):
        """The endpoint's deliveries, newest first, each with its attempts; paginated."""
        endpoint = self.get_object()
        page = self.paginate_queryset(endpoint_deliveries(endpoint_id=endpoint.pk))
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @action(
        detail=True,
        methods=["post"],
        url_path=r"deliveries/(?P<delivery_id>[0-9]+)/redeliver",
        serializer_class=WebhookDeliverySerializer,
    )
    def redeliver(self, request, pk=None, delivery_id=None):
        """Send a delivery again, with the same `webhook-id`: 202 with it, pending."""
        endpoint = self.get_object()
        if not WebhookDelivery.objects.filter(pk=delivery_id, endpoint_id=endpoint.pk).exists():
            raise NotFound(DELIVERY_NOT_FOUND_MESSAGE)
        redeliver_webhook(delivery_id=int(delivery_id))
        delivery = endpoint_deliveries(endpoint_id=endpoint.pk).get(pk=delivery_id)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
