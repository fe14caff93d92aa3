"""Webhooks end to end in one process: the changes the services make, published, fanned out and
POSTed by the worker's functions to a real HTTP receiver on 127.0.0.1, which verifies every
request with the `standardwebhooks` library (testing/webhooks.py)."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core import webhooks
from core.models import (
    CheckIn,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEventType,
    WebhookMessage,
)
from core.services import (
    Caller,
    OfflineScan,
    cancel_event,
    cancel_registration_by_token,
    check_in_ticket,
    create_event,
    create_webhook_endpoint,
    register_attendee,
    remove_attendee,
    rotate_webhook_secret,
    sync_offline_scans,
    undo_check_in,
    update_event,
)
from core.tickets import issue_ticket

pytestmark = pytest.mark.django_db

ALL_TYPES = list(WebhookEventType.values)


@pytest.fixture
def organiser(organiser_factory):
    return organiser_factory(email="nina@example.com")


@pytest.fixture
def endpoint(organiser, receiver):
    """The organiser's endpoint at the receiver, for every type; the receiver checks its
    signatures."""
    endpoint = create_webhook_endpoint(owner=organiser, url=receiver.url, event_types=ALL_TYPES)
    receiver.secrets = [endpoint.secret]
    return endpoint


def new_event(owner, **fields):
    start = timezone.now() + timedelta(days=30)
    details = {
        "name": "Launch",
        "location": "Dock 5",
        "start_time": start,
        "end_time": start + timedelta(hours=3),
        "max_capacity": 1,
        **fields,
    }
    return create_event(owner=owner, **details)


def types(receiver) -> list[str]:
    return [r.payload["type"] for r in receiver.accepted]


def test_every_change_arrives_signed_in_the_order_it_happened(
    organiser, endpoint, receiver, deliver_webhooks
):
    event = new_event(organiser)
    deliver_webhooks()
    seat = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    deliver_webhooks()
    register_attendee(event_id=event.pk, name="Grace", email="grace@example.com", waitlist=True)
    deliver_webhooks()
    cancel_registration_by_token(token=seat.token)  # Grace takes the seat
    deliver_webhooks()
    update_event(event_id=event.pk, location="Hall B")
    deliver_webhooks()
    grace = event.attendees.get()
    remove_attendee(event_id=event.pk, attendee_id=grace.pk)
    deliver_webhooks()
    cancel_event(event_id=event.pk)
    deliver_webhooks()

    assert receiver.unverified == []
    assert types(receiver) == [
        "event.created",
        "registration.created",
        "registration.waitlisted",
        "registration.cancelled",
        "registration.promoted",
        "event.updated",
        "registration.removed",
        "event.cancelled",
    ]
    by_type = {r.payload["type"]: r.payload for r in receiver.accepted}
    created = by_type["registration.created"]["data"]
    assert created == {
        "id": seat.attendee.pk,
        "event": event.pk,
        "name": "Ada",
        "email": "ada@example.com",
        "status": "registered",
        "registered_at": created["registered_at"],
    }
    assert created["registered_at"].endswith("Z")
    assert by_type["registration.waitlisted"]["data"]["status"] == "waitlisted"
    assert by_type["event.updated"]["data"]["location"] == "Hall B"
    assert by_type["event.cancelled"]["data"]["status"] == "cancelled"
    # Every message its own id, the body in the spec's shape.
    ids = [r.webhook_id for r in receiver.accepted]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("msg_") for i in ids)
    assert all(set(r.payload) == {"type", "timestamp", "data"} for r in receiver.accepted)


def test_a_change_rolled_back_is_never_delivered(organiser, endpoint, receiver, deliver_webhooks):
    event = new_event(organiser, max_capacity=5)
    deliver_webhooks()

    def change_then_fail():
        with transaction.atomic():
            register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
            update_event(event_id=event.pk, location="Elsewhere")
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        change_then_fail()
    deliver_webhooks()
    assert types(receiver) == ["event.created"]


def test_a_check_in_or_its_undoing_rolled_back_is_never_delivered(
    organiser, endpoint, receiver, deliver_webhooks
):
    event = new_event(organiser, max_capacity=5)
    seat = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com").attendee
    ticket = issue_ticket(event_id=event.pk, registration_id=seat.pk)
    caller = Caller(user_id=organiser.pk)
    scan = OfflineScan(ticket=ticket, nonce="offline", scanned_at=timezone.now())

    def change_then_fail(change):
        with transaction.atomic():
            change()
            raise RuntimeError("rolled back")

    def then_fail(change):
        with pytest.raises(RuntimeError):
            change_then_fail(change)

    deliver_webhooks()

    then_fail(lambda: check_in_ticket(event_id=event.pk, ticket=ticket, nonce="n", caller=caller))
    then_fail(lambda: sync_offline_scans(event_id=event.pk, scans=[scan], caller=caller))
    admission = check_in_ticket(event_id=event.pk, ticket=ticket, nonce="n", caller=caller)
    then_fail(lambda: undo_check_in(event_id=event.pk, checkin_id=admission.id))
    deliver_webhooks()

    assert types(receiver) == ["event.created", "registration.created", "checkin.created"]
    assert receiver.accepted[-1].payload["data"]["id"] == admission.id
    assert CheckIn.objects.filter(pk=admission.id).exists()  # the undoing rolled back too


def test_only_the_owners_events_reach_an_organisers_endpoint_and_every_event_staffs(
    organiser, organiser_factory, staff_factory, endpoint, receiver, deliver_webhooks
):
    staff_endpoint = create_webhook_endpoint(
        owner=staff_factory(), url=f"{receiver.url}/staff", event_types=["event.created"]
    )
    receiver.path_secrets["/hooks/staff"] = [staff_endpoint.secret]
    theirs = new_event(organiser_factory())
    mine = new_event(organiser)
    deliver_webhooks()

    def events_told(endpoint) -> list[int]:
        deliveries = WebhookDelivery.objects.filter(endpoint=endpoint, status="delivered")
        return sorted(d.message.data["id"] for d in deliveries)

    assert events_told(endpoint) == [mine.pk]
    assert events_told(staff_endpoint) == sorted([theirs.pk, mine.pk])
    assert len(receiver.accepted) == 3


def test_an_endpoint_hears_only_the_types_it_subscribed_to(organiser, receiver, deliver_webhooks):
    endpoint = create_webhook_endpoint(
        owner=organiser, url=receiver.url, event_types=["registration.cancelled"]
    )
    receiver.secrets = [endpoint.secret]
    event = new_event(organiser, max_capacity=3)
    seat = register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    cancel_registration_by_token(token=seat.token)
    deliver_webhooks()
    assert types(receiver) == ["registration.cancelled"]


@pytest.mark.parametrize("endpoints", [0, 25])
def test_a_registration_costs_the_same_whatever_the_number_of_endpoints(
    organiser, endpoints, django_assert_num_queries, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    event = new_event(organiser, max_capacity=5)
    WebhookEndpoint.objects.bulk_create(
        WebhookEndpoint(
            owner=organiser, url=f"https://10.0.0.{n}/", event_types=ALL_TYPES, secret="whsec_x"
        )
        for n in range(endpoints)
    )
    # PostgreSQL: the one statement (core/sql/registration.py); SQLite: its savepoint, lock,
    # inserts and release, as without webhooks.
    expected = 1 if connection.vendor == "postgresql" else 5
    with django_assert_num_queries(expected):
        register_attendee(event_id=event.pk, name="Ada", email="ada@example.com")
    assert not WebhookMessage.objects.filter(type="registration.created").exists()


def test_fanning_out_twice_or_after_a_crash_makes_each_delivery_once(
    organiser, endpoint, receiver, monkeypatch, settings
):
    second = create_webhook_endpoint(owner=organiser, url=receiver.url, event_types=ALL_TYPES)
    for n in range(3):
        new_event(organiser, name=f"Event {n}")
    calls = {"n": 0}
    real_wants = webhooks.wants

    def crash_midway(*args):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("worker killed")
        return real_wants(*args)

    monkeypatch.setattr(webhooks, "wants", crash_midway)
    with pytest.raises(RuntimeError):
        webhooks.fan_out_messages()
    assert not WebhookDelivery.objects.exists()
    assert WebhookMessage.objects.filter(fanned_out=False).count() == 3
    monkeypatch.setattr(webhooks, "wants", real_wants)
    assert webhooks.fan_out_messages() == 3
    assert webhooks.fan_out_messages() == 0
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 3
    assert WebhookDelivery.objects.filter(endpoint=second).count() == 3


def test_a_receiver_down_for_a_while_then_back_gets_everything_in_order(
    organiser, endpoint, receiver, deliver_webhooks, settings
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    receiver.answer = lambda n: 503 if n < 7 else 200
    events = [new_event(organiser, name=f"Event {n}") for n in range(5)]
    deliver_webhooks()
    accepted = [r.payload["data"]["id"] for r in receiver.accepted]
    assert accepted == [event.pk for event in events]
    first = WebhookDelivery.objects.order_by("id").first()
    assert first.attempt_log.count() == 8  # 7 refusals, then the answer that took it
    # Each retry carried the same webhook-id: the receiver saw one id per message.
    assert len({r.webhook_id for r in receiver.requests}) == 5
    assert receiver.unverified == []


def test_later_deliveries_wait_for_an_earlier_one_being_retried(
    organiser, endpoint, receiver, deliver_webhooks, settings
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 60
    receiver.answer = lambda n: 500
    new_event(organiser, name="First")
    new_event(organiser, name="Second")
    deliver_webhooks()
    assert len(receiver.requests) == 1  # the second waits for the first's retry
    first, second = WebhookDelivery.objects.order_by("id")
    assert first.status == second.status == WebhookDeliveryStatus.PENDING
    assert (first.attempts, second.attempts) == (1, 0)
    pause = (first.available_at - first.attempt_log.get().attempted_at).total_seconds()
    assert 30 <= pause <= 61  # 60 s with jitter, from half of it


def test_backoff_doubles_with_jitter(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 5
    for attempts in range(1, 8):
        full = 5 * 2 ** (attempts - 1)
        delays = {webhooks.retry_delay(attempts).total_seconds() for _ in range(20)}
        assert all(full / 2 <= delay <= full for delay in delays), attempts
        assert len(delays) > 1, "no jitter"


def test_gone_switches_the_endpoint_off_at_once_and_the_rest_waits(
    organiser, endpoint, receiver, deliver_webhooks
):
    receiver.answer = lambda n: 410
    new_event(organiser, name="First")
    new_event(organiser, name="Second")
    deliver_webhooks()
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, webhooks.GONE_REASON)
    assert len(receiver.requests) == 1
    assert list(WebhookDelivery.objects.order_by("id").values_list("status", flat=True)) == [
        "failed",
        "pending",
    ]


def test_an_endpoint_failing_for_the_whole_window_is_switched_off_and_its_owner_told(
    organiser, endpoint, receiver, deliver_webhooks, mailoutbox, settings
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    receiver.answer = lambda n: 503
    new_event(organiser)
    deliver_webhooks(rounds=1)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDeliveryStatus.PENDING
    # Three days on, still failing.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        retry_until=timezone.now() - timedelta(seconds=1)
    )
    deliver_webhooks(rounds=1)
    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert delivery.status == WebhookDeliveryStatus.FAILED
    assert not endpoint.enabled
    assert endpoint.disabled_reason == "Deliveries failed for 72 hours."
    (email,) = mailoutbox
    assert email.to == ["nina@example.com"]
    assert endpoint.url in email.body


def test_a_client_error_fails_the_delivery_without_retries_and_the_next_goes(
    organiser, endpoint, receiver, deliver_webhooks
):
    receiver.answer = lambda n: 404 if n == 0 else 200
    new_event(organiser, name="First")
    new_event(organiser, name="Second")
    deliver_webhooks()
    assert [r.status for r in receiver.requests] == [404, 200]
    assert list(WebhookDelivery.objects.order_by("id").values_list("status", flat=True)) == [
        "failed",
        "delivered",
    ]


def test_redirects_are_not_followed(organiser, endpoint, receiver, deliver_webhooks):
    receiver.answer = lambda n: 302
    receiver.extra_headers = {"Location": receiver.url + "/elsewhere"}
    new_event(organiser)
    deliver_webhooks()
    assert len(receiver.requests) == 1
    attempt = WebhookDelivery.objects.get().attempt_log.get()
    assert attempt.status_code == 302


def test_each_attempt_is_kept_with_the_first_2_kib_of_a_64_kib_bounded_answer(
    organiser, endpoint, receiver, deliver_webhooks
):
    receiver.answer_body = b"x" * (1024 * 1024)
    new_event(organiser)
    deliver_webhooks()
    attempt = WebhookDelivery.objects.get().attempt_log.get()
    assert attempt.status_code == 200
    assert attempt.response_body == "x" * 2048
    assert attempt.error == ""


def test_a_slow_endpoint_times_out_and_is_retried(
    organiser, endpoint, receiver, deliver_webhooks, monkeypatch, settings
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 3600
    monkeypatch.setattr(webhooks, "REQUEST_TIMEOUT", 0.5)
    receiver.delay = 2
    new_event(organiser)
    deliver_webhooks()
    delivery = WebhookDelivery.objects.get()
    attempt = delivery.attempt_log.get()
    assert delivery.status == WebhookDeliveryStatus.PENDING
    assert attempt.status_code is None
    assert "Timed out" in attempt.error
    assert attempt.duration_ms < 1500


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # the cloud metadata address
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fd00:ec2::254",
        "fe80::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
    ],
)
def test_no_address_but_a_public_one_is_allowed(address, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    assert not webhooks.address_allowed(address)
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    assert webhooks.address_allowed(address)


def test_public_addresses_are_allowed(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    assert webhooks.address_allowed("93.184.215.14")
    assert webhooks.address_allowed("2606:2800:21f:cb07:6820:80da:af6b:8b2c")


def test_a_name_that_resolves_to_loopback_after_it_was_saved_is_refused_at_connect_time(
    organiser, receiver, deliver_webhooks, monkeypatch, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    port = int(receiver.url.split(":")[2].split("/")[0])
    public = [(2, 1, 6, "", ("93.184.215.14", port))]
    loopback = [(2, 1, 6, "", ("127.0.0.1", port))]
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: public)
    endpoint = create_webhook_endpoint(
        owner=organiser, url=f"http://hooks.example.com:{port}/hooks", event_types=ALL_TYPES
    )
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: loopback)  # rebinding
    new_event(organiser)
    deliver_webhooks()
    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == WebhookDeliveryStatus.FAILED
    assert delivery.attempt_log.get().error == webhooks.PRIVATE_ADDRESS_MESSAGE


def test_the_connection_goes_to_the_address_checked_not_a_second_lookup(
    organiser, receiver, deliver_webhooks, monkeypatch, settings
):
    """The name is resolved once per attempt: a resolver answering 127.0.0.1 first (allowed
    here) and something else after cannot redirect the connection."""
    port = int(receiver.url.split(":")[2].split("/")[0])
    loopback, elsewhere = [(2, 1, 6, "", ("127.0.0.1", port))], [(2, 1, 6, "", ("10.9.9.9", 1))]
    answers = iter([loopback, loopback, elsewhere, elsewhere])
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: next(answers))
    endpoint = create_webhook_endpoint(
        owner=organiser, url=f"http://hooks.example.com:{port}/hooks", event_types=ALL_TYPES
    )
    receiver.secrets = [endpoint.secret]
    new_event(organiser)
    deliver_webhooks()
    assert [r.status for r in receiver.requests] == [200]
    assert receiver.requests[0].headers["host"] == f"hooks.example.com:{port}"


def test_a_rotated_secret_signs_beside_the_new_one_for_a_day(
    organiser, endpoint, receiver, deliver_webhooks
):
    old = endpoint.secret
    endpoint = rotate_webhook_secret(endpoint_id=endpoint.pk)
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.secret != old
    receiver.secrets = [old, endpoint.secret]  # each verifies on its own
    new_event(organiser, name="During the overlap")
    deliver_webhooks()
    assert len(receiver.requests[0].headers["webhook-signature"].split(" ")) == 2
    assert receiver.unverified == []

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    receiver.secrets = [endpoint.secret]
    new_event(organiser, name="After it")
    deliver_webhooks()
    assert len(receiver.requests[1].headers["webhook-signature"].split(" ")) == 1
    assert receiver.unverified == []
    receiver.secrets = [old]
    receiver.verify(receiver.requests[1].headers, receiver.requests[1].body)
    assert len(receiver.unverified) == 1  # the old secret no longer signs
    receiver.unverified.clear()


def test_the_log_is_purged_after_its_days_but_never_a_pending_delivery(
    organiser, endpoint, receiver, deliver_webhooks, settings
):
    settings.WEBHOOK_LOG_AGE = timedelta(days=30)
    settings.WEBHOOK_RETRY_BASE_SECONDS = 3600
    new_event(organiser, name="Delivered")
    deliver_webhooks()
    receiver.answer = lambda n: 503
    new_event(organiser, name="Waiting")
    deliver_webhooks()
    assert webhooks.purge_webhook_log(now=timezone.now() + timedelta(days=29)) == 0
    assert webhooks.purge_webhook_log(now=timezone.now() + timedelta(days=31)) == 1
    (left,) = WebhookDelivery.objects.all()
    assert left.status == WebhookDeliveryStatus.PENDING


def test_the_age_of_the_oldest_undelivered_message_shows_a_stuck_queue(
    organiser, endpoint, receiver, deliver_webhooks
):
    assert webhooks.oldest_undelivered_age() == 0
    receiver.answer = lambda n: 503
    new_event(organiser)
    deliver_webhooks(rounds=1)
    later = timezone.now() + timedelta(hours=2)
    assert webhooks.oldest_undelivered_age(now=later) >= 7199


def test_the_metrics_show_attempts_by_outcome_and_the_oldest_undelivered_message(
    organiser, endpoint, receiver, deliver_webhooks, settings
):
    from event_management_system.ops.metrics import exposition

    settings.WEBHOOK_RETRY_BASE_SECONDS = 3600
    receiver.answer = lambda n: 200 if n == 0 else 503
    new_event(organiser, name="Delivered")
    deliver_webhooks()
    new_event(organiser, name="Stuck")
    deliver_webhooks()
    text = exposition("text/plain")[0].decode()
    assert 'events_webhook_deliveries_total{outcome="delivered"} 1.0' in text
    assert 'events_webhook_deliveries_total{outcome="retried"} 1.0' in text
    assert 'events_webhook_deliveries_total{outcome="failed"} 0.0' in text
    assert "events_webhook_oldest_undelivered_seconds " in text


def test_an_answer_holding_nul_bytes_is_kept_as_text(
    organiser, endpoint, receiver, deliver_webhooks
):
    receiver.answer_body = b"ok\x00\xff"
    new_event(organiser)
    deliver_webhooks()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDeliveryStatus.DELIVERED
    assert delivery.attempt_log.get().response_body == "ok\ufffd\ufffd"
