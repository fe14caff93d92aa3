"""Webhooks in the admin: endpoints made through core.services (the URL checked as the API
checks it, the secret shown once), deliveries with their attempts, redelivered by an action."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint
from core.services import create_event, create_webhook_endpoint
from core.tests.admin_pages import errors, messages, result_rows
from core.webhooks import PRIVATE_ADDRESS_MESSAGE

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

ENDPOINTS = "/admin/core/webhookendpoint/"
DELIVERIES = "/admin/core/webhookdelivery/"


def test_staff_make_an_endpoint_and_see_its_secret_once(admin_client, organiser_factory, receiver):
    owner = organiser_factory()
    response = admin_client.post(
        f"{ENDPOINTS}add/",
        {"owner": owner.pk, "url": receiver.url, "event_types": ["event.created"], "enabled": "on"},
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.owner, endpoint.event_types) == (owner, ["event.created"])
    assert any(endpoint.secret in message for message in messages(response))
    assert (
        endpoint.secret
        not in admin_client.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    )


def test_a_private_address_is_refused_in_the_admin_too(admin_client, organiser_factory, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    response = admin_client.post(
        f"{ENDPOINTS}add/",
        {
            "owner": organiser_factory().pk,
            "url": "https://127.0.0.1/",
            "event_types": ["event.created"],
        },
    )
    assert PRIVATE_ADDRESS_MESSAGE in errors(response)
    assert not WebhookEndpoint.objects.exists()


def test_a_delivery_is_redelivered_from_the_admin(
    admin_client, organiser_factory, event_factory, receiver, deliver_webhooks
):

    owner = organiser_factory()
    endpoint = create_webhook_endpoint(owner=owner, url=receiver.url, event_types=["event.created"])
    receiver.secrets = [endpoint.secret]
    start = timezone.now() + timedelta(days=3)
    create_event(owner=owner, name="A", location="B", start_time=start,
                 end_time=start + timedelta(hours=1), max_capacity=3)  # fmt: skip
    deliver_webhooks()
    delivery = WebhookDelivery.objects.get()
    rows = result_rows(admin_client.get(DELIVERIES))
    assert [row["status"] for row in rows] == ["Delivered"]
    response = admin_client.post(
        DELIVERIES, {"action": "redeliver", "_selected_action": [delivery.pk]}, follow=True
    )
    assert "1 deliveries queued again." in messages(response)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDeliveryStatus.PENDING
    deliver_webhooks()
    assert [r.webhook_id for r in receiver.accepted] == [delivery.message.uid] * 2
    assert receiver.unverified == []
