"""/api/webhooks/: an organiser's endpoints over HTTP, every refusal proven, and their deliveries
read, pinged and redelivered to a real receiver verifying each request with standardwebhooks."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import WebhookDelivery, WebhookEndpoint, WebhookMessage
from core.services import create_event, create_webhook_endpoint
from core.webhooks import HTTPS_REQUIRED_MESSAGE, PRIVATE_ADDRESS_MESSAGE

pytestmark = pytest.mark.django_db

WEBHOOKS = "/api/webhooks/"


@pytest.fixture
def nina(organiser_factory):
    return organiser_factory(username="nina")


@pytest.fixture
def nina_client(nina, token_client):
    return token_client(nina)


@pytest.fixture
def endpoint(nina, receiver):
    endpoint = create_webhook_endpoint(
        owner=nina, url=receiver.url, event_types=["event.created", "event.updated"]
    )
    receiver.secrets = [endpoint.secret]
    return endpoint


def new_event(owner, **fields):
    start = timezone.now() + timedelta(days=30)
    return create_event(
        owner=owner,
        **{
            "name": "Launch",
            "location": "Dock 5",
            "start_time": start,
            "end_time": start + timedelta(hours=3),
            "max_capacity": 10,
            **fields,
        },
    )


def test_an_organiser_registers_an_endpoint_and_sees_its_secret_once(nina_client, receiver):
    response = nina_client.post(
        WEBHOOKS,
        {"url": receiver.url, "events": ["registration.created", "registration.created"]},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["registration.created"]
    assert (body["url"], body["enabled"]) == (receiver.url, True)
    assert WebhookEndpoint.objects.get().secret == body["secret"]

    shown = nina_client.get(f"{WEBHOOKS}{body['id']}/")
    assert shown.status_code == 200
    assert "secret" not in shown.json()
    assert "secret" not in nina_client.get(WEBHOOKS).json()["results"][0]


def test_an_endpoint_subscribes_to_check_ins(nina_client, receiver):
    events = ["checkin.created", "checkin.reverted"]
    response = nina_client.post(WEBHOOKS, {"url": receiver.url, "events": events}, format="json")
    assert response.status_code == 201
    assert response.json()["events"] == events
    assert WebhookEndpoint.objects.get().event_types == events


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://hooks.example.com/", "events": ["event.created"]}, "url"),
        ({"url": "https://user:pw@hooks.example.com/", "events": ["event.created"]}, "url"),
        ({"url": "https://hooks.example.com/", "events": []}, "events"),
        ({"url": "https://hooks.example.com/", "events": ["checkin.deleted"]}, "events"),
        ({"url": "https://hooks.example.com/", "events": ["", None, 3]}, "events"),
        ({"url": "https://hooks.example.com/", "events": "event.created"}, "events"),
        ({"events": ["event.created"]}, "url"),
    ],
)
def test_a_bad_endpoint_is_refused_naming_the_field(nina_client, body, field):
    response = nina_client.post(WEBHOOKS, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]
    assert not WebhookEndpoint.objects.exists()


def test_plain_http_needs_the_switch(nina_client, settings):
    settings.WEBHOOKS_ALLOW_HTTP = False
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    response = nina_client.post(
        WEBHOOKS, {"url": "http://127.0.0.1:9/", "events": ["event.created"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"url": [HTTPS_REQUIRED_MESSAGE]}


@pytest.mark.parametrize(
    "url",
    ["https://127.0.0.1/", "https://[::1]/", "https://169.254.169.254/", "https://10.0.0.8/"],
)
def test_a_url_at_a_private_address_is_refused_without_the_switch(nina_client, settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    response = nina_client.post(WEBHOOKS, {"url": url, "events": ["event.created"]}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"url": [PRIVATE_ADDRESS_MESSAGE]}


def test_a_name_resolving_to_loopback_is_refused_when_saved(nina_client, settings, monkeypatch):
    from core import webhooks

    settings.WEBHOOKS_ALLOW_PRIVATE = False
    monkeypatch.setattr(
        webhooks, "resolve", lambda host, port: [(2, 1, 6, "", ("127.0.0.1", port))]
    )
    response = nina_client.post(
        WEBHOOKS, {"url": "https://sneaky.example.com/", "events": ["event.created"]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"] == {"url": [PRIVATE_ADDRESS_MESSAGE]}


def test_owners_list_their_own_endpoints_and_staff_every_one(
    nina, nina_client, organiser_factory, staff_factory, token_client, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    mine = create_webhook_endpoint(
        owner=nina, url="https://10.0.0.1/", event_types=["event.created"]
    )
    theirs = create_webhook_endpoint(
        owner=organiser_factory(), url="https://10.0.0.2/", event_types=["event.created"]
    )
    listed = nina_client.get(WEBHOOKS).json()
    assert [e["id"] for e in listed["results"]] == [mine.pk]
    everyone = token_client(staff_factory()).get(WEBHOOKS).json()
    assert [e["id"] for e in everyone["results"]] == [mine.pk, theirs.pk]


# Every operation on one endpoint, as (method, path under the endpoint, body).
ON_AN_ENDPOINT = [
    ("get", "", None),
    ("patch", "", {"enabled": False}),
    ("delete", "", None),
    ("post", "rotate-secret/", None),
    ("post", "ping/", None),
    ("get", "deliveries/", None),
    ("post", "deliveries/{delivery}/redeliver/", None),
]


@pytest.fixture
def delivered(endpoint, nina, deliver_webhooks):
    """The endpoint with one delivery made."""
    new_event(nina)
    deliver_webhooks()
    return WebhookDelivery.objects.get(endpoint=endpoint)


def call(client, endpoint, delivery, method, path, body):
    url = f"{WEBHOOKS}{endpoint.pk}/{path.format(delivery=delivery.pk)}"
    return getattr(client, method)(url, body, format="json")


@pytest.mark.parametrize(("method", "path", "body"), ON_AN_ENDPOINT)
def test_another_organiser_is_refused_403(
    endpoint, delivered, organiser_factory, token_client, method, path, body
):
    response = call(token_client(organiser_factory()), endpoint, delivered, method, path, body)
    assert response.status_code == 403
    assert response.json() == {
        "detail": "You do not have permission to perform this action.",
        "code": "permission_denied",
    }
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).exists()


@pytest.mark.parametrize(("method", "path", "body"), ON_AN_ENDPOINT)
def test_a_user_who_is_not_an_organiser_is_refused_403(
    endpoint, delivered, user_factory, token_client, method, path, body
):
    response = call(token_client(user_factory()), endpoint, delivered, method, path, body)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize(("method", "path", "body"), ON_AN_ENDPOINT)
def test_anonymous_callers_are_refused_401(api_client, endpoint, delivered, method, path, body):
    response = call(api_client, endpoint, delivered, method, path, body)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(("method", "path", "body"), ON_AN_ENDPOINT)
def test_staff_may_act_on_any_endpoint(
    endpoint, delivered, staff_factory, token_client, method, path, body
):
    response = call(token_client(staff_factory()), endpoint, delivered, method, path, body)
    assert response.status_code in {200, 202, 204}


def test_listing_and_creating_are_refused_to_anonymous_and_non_organisers(
    api_client, user_factory, token_client
):
    assert api_client.get(WEBHOOKS).json()["code"] == "not_authenticated"
    body = {"url": "https://hooks.example.com/", "events": ["event.created"]}
    assert api_client.post(WEBHOOKS, body, format="json").status_code == 401
    stranger = token_client(user_factory())
    assert stranger.get(WEBHOOKS).status_code == 403
    assert stranger.post(WEBHOOKS, body, format="json").status_code == 403
    assert not WebhookEndpoint.objects.exists()


def test_an_unknown_endpoint_or_delivery_answers_404(nina_client, endpoint, delivered):
    missing = nina_client.get(f"{WEBHOOKS}{endpoint.pk + 100}/")
    assert missing.status_code == 404
    assert missing.json() == {
        "detail": "No webhook endpoint exists with this id.",
        "code": "not_found",
    }
    other = nina_client.post(f"{WEBHOOKS}{endpoint.pk}/deliveries/{delivered.pk + 100}/redeliver/")
    assert other.status_code == 404
    assert other.json()["detail"] == "This webhook endpoint has no delivery with this id."


def test_changing_and_deleting_an_endpoint(nina_client, endpoint, receiver):
    changed = nina_client.patch(
        f"{WEBHOOKS}{endpoint.pk}/", {"events": ["event.cancelled"], "enabled": False},
        format="json",
    )  # fmt: skip
    assert changed.status_code == 200
    assert (changed.json()["events"], changed.json()["enabled"]) == (["event.cancelled"], False)
    assert nina_client.delete(f"{WEBHOOKS}{endpoint.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_rotating_shows_the_new_secret_once(nina_client, endpoint):
    response = nina_client.post(f"{WEBHOOKS}{endpoint.pk}/rotate-secret/")
    assert response.status_code == 200
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert body["secret"] != endpoint.secret
    assert body["previous_secret_expires_at"].endswith("Z")


def test_a_ping_arrives_signed(nina_client, endpoint, receiver, deliver_webhooks):
    response = nina_client.post(f"{WEBHOOKS}{endpoint.pk}/ping/")
    assert response.status_code == 202
    assert (response.json()["type"], response.json()["status"]) == ("webhook.ping", "pending")
    deliver_webhooks()
    (ping,) = receiver.accepted
    assert ping.payload["type"] == "webhook.ping"
    assert ping.webhook_id == response.json()["webhook_id"]
    assert receiver.unverified == []


def test_deliveries_show_every_attempt_and_a_redelivery_sends_the_same_message_again(
    nina, nina_client, endpoint, receiver, deliver_webhooks, settings
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    receiver.answer = lambda n: 503 if n == 0 else 200
    new_event(nina)
    deliver_webhooks()
    page = nina_client.get(f"{WEBHOOKS}{endpoint.pk}/deliveries/").json()
    (delivery,) = page["results"]
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [503, 200]
    assert delivery["attempts"][1]["response_body"] == "ok"
    assert delivery["payload"]["type"] == "event.created"

    again = nina_client.post(f"{WEBHOOKS}{endpoint.pk}/deliveries/{delivery['id']}/redeliver/")
    assert again.status_code == 202
    assert again.json()["status"] == "pending"
    deliver_webhooks()
    assert [r.webhook_id for r in receiver.accepted] == [delivery["webhook_id"]] * 2
    assert receiver.accepted[0].body == receiver.accepted[1].body
    assert receiver.unverified == []


def test_an_event_webhook_holds_the_event_as_the_owners_api_shows_it(
    nina, nina_client, endpoint, receiver, deliver_webhooks
):
    event = new_event(nina)
    nina_client.patch(f"/api/events/{event.pk}/", {"location": "Hall B"}, format="json")
    deliver_webhooks()
    assert [r.payload["type"] for r in receiver.accepted] == ["event.created", "event.updated"]
    shown = nina_client.get(f"/api/events/{event.pk}/").json()
    assert receiver.accepted[1].payload["data"] == shown


@pytest.mark.parametrize("rows", [1, 50])
def test_the_deliveries_list_costs_the_same_queries_for_1_or_50_rows(
    nina_client, endpoint, rows, django_assert_num_queries
):
    for n in range(rows):
        message = WebhookMessage.objects.create(
            uid=f"msg_{n}", type="event.created", occurred_at=timezone.now(), fanned_out=True
        )
        WebhookDelivery.objects.create(message=message, endpoint=endpoint)
    # The token (2) and the organiser's permissions (2), the endpoint, the count, the page of
    # deliveries with their messages, and their attempts: 8 whatever the page's length.
    with django_assert_num_queries(8):
        response = nina_client.get(f"{WEBHOOKS}{endpoint.pk}/deliveries/?page_size=100")
    assert len(response.json()["results"]) == rows
