"""/metrics: who may read it, and what it counts: requests by view and status, registrations by
outcome, database errors by kind, the response cache's hits and misses."""

import pytest
from django.db import connection

from core.models import EventStatus, Question
from event_management_system.ops.metrics import REGISTRATION_OUTCOMES
from event_management_system.ops.tests.scraping import scrape, value

pytestmark = pytest.mark.django_db

TOKEN = "metrics-scraper-token-0123456789abcdef"


def test_metrics_are_prometheus_text_for_this_host(client):
    response = client.get("/metrics", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert response["Cache-Control"] == "no-store"
    text = response.content.decode()
    assert "# TYPE http_requests_total counter" in text
    assert "# TYPE http_request_duration_seconds histogram" in text
    for outcome in REGISTRATION_OUTCOMES:
        assert f'events_registrations_total{{outcome="{outcome}"}}' in text


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"REMOTE_ADDR": "10.1.2.3"}, id="another-host"),
        # Relayed by a proxy the app was not told about: the proxy's address says nothing.
        pytest.param({"HTTP_X_FORWARDED_FOR": "203.0.113.9"}, id="through-a-proxy"),
        pytest.param({"HTTP_X_FORWARDED_FOR": "127.0.0.1"}, id="claiming-this-host"),
    ],
)
def test_without_a_token_metrics_are_refused_to_other_hosts(client, headers):
    response = client.get("/metrics", **headers)

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "http_requests_total" not in response.content.decode()


def test_behind_a_trusted_proxy_the_forwarded_address_decides(client, settings):
    settings.TRUSTED_PROXIES = 1
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    outside = client.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1, 203.0.113.9")
    inside = client.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1")

    assert outside.status_code == 403
    assert inside.status_code == 200


@pytest.mark.parametrize(
    ("authorization", "remote_addr"),
    [
        pytest.param(None, "127.0.0.1", id="none-from-this-host"),
        pytest.param(f"Bearer {TOKEN}x", "10.1.2.3", id="wrong"),
        pytest.param(f"Basic {TOKEN}", "10.1.2.3", id="other-scheme"),
    ],
)
def test_with_a_token_metrics_need_it(client, settings, authorization, remote_addr):
    settings.METRICS_TOKEN = TOKEN
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = client.get("/metrics", REMOTE_ADDR=remote_addr, **headers)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


def test_with_a_token_metrics_are_served_anywhere_to_its_bearer(client, settings):
    settings.METRICS_TOKEN = TOKEN

    response = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 200
    assert "http_requests_total" in response.content.decode()


def test_requests_are_counted_by_view_and_status(client, event_factory):
    event = event_factory()
    before = scrape(client)

    client.get(f"/api/events/{event.pk}/")
    client.get(f"/api/events/{event.pk}/")
    client.get("/api/events/999999/")
    client.get(f"/api/events/{event.pk}/attendees/")
    client.get("/api/no/such/thing/")
    client.get("/no/such/page/")
    after = scrape(client)

    def delta(view, status):
        labels = {"view": view, "status": status}
        return value(after, "http_requests_total", **labels) - value(
            before, "http_requests_total", **labels
        )

    assert delta("event-detail", "200") == 2
    assert delta("event-detail", "404") == 1
    assert delta("event-attendees", "200") == 1
    assert delta("api.exceptions.not_found", "404") == 1
    # Paths no route matches share one label: the label set stays bounded.
    assert delta("unmatched", "404") == 1
    assert (
        value(after, "http_request_duration_seconds_count", view="event-detail", status="200")
        - value(before, "http_request_duration_seconds_count", view="event-detail", status="200")
        == 2
    )
    # No label holds a path.
    assert str(event.pk) not in {
        line.split("{")[1] for line in after.splitlines() if line.startswith("http_requests_total{")
    }


def outcomes(text: str) -> dict[str, float]:
    return {o: value(text, "events_registrations_total", outcome=o) for o in REGISTRATION_OUTCOMES}


def test_registrations_are_counted_by_outcome(
    client, settings, redis_cache, event_factory, in_days
):
    full = event_factory(max_capacity=1)
    started = event_factory(start_time=in_days(-1), end_time=in_days(1))
    cancelled = event_factory(status=EventStatus.CANCELLED)
    throttled = event_factory()
    approval = event_factory(requires_approval=True)
    asking = event_factory()
    Question.objects.create(event=asking, label="Diet", kind="text", required=True)
    before = outcomes(scrape(client))

    def register(event, email, **extra):
        body = {"name": "Ada", "email": email, **extra}
        return client.post(
            f"/api/events/{event.pk}/register/", body, content_type="application/json"
        ).status_code

    assert register(full, "ada@example.com") == 201
    assert register(full, "ada@example.com") == 409
    assert register(full, "bob@example.com") == 409
    assert register(full, "bob@example.com", waitlist=True) == 202
    assert register(started, "ada@example.com") == 409
    assert register(cancelled, "ada@example.com") == 409
    assert register(type(full)(pk=999999), "ada@example.com") == 404
    assert register(approval, "ada@example.com") == 202
    # Refused for its input: none of the outcomes.
    assert register(full, "not-an-email") == 400
    assert register(asking, "ada@example.com") == 400  # a required answer missing
    settings.API_THROTTLE = True
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "register": "1/min",
        },
    }
    assert register(throttled, "cy@example.com") == 201
    assert register(throttled, "di@example.com") == 429
    after = outcomes(scrape(client))

    assert {o: after[o] - before[o] for o in REGISTRATION_OUTCOMES} == {
        "registered": 2,
        "waitlisted": 1,
        "pending": 1,
        "answers_required": 0,
        "event_full": 1,
        "already_registered": 1,
        "registration_closed": 1,
        "event_cancelled": 1,
        "not_found": 1,
        "throttled": 1,
    }


def test_a_replayed_registration_is_counted_once(client, event_factory):
    event = event_factory()
    before = outcomes(scrape(client))

    answers = [
        client.post(
            f"/api/events/{event.pk}/register/",
            {"name": "Ada", "email": "ada@example.com"},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="retry-me-1",
        )
        for _ in range(3)
    ]

    assert [answer.status_code for answer in answers] == [201, 201, 201]
    assert answers[2]["Idempotent-Replayed"] == "true"
    assert outcomes(scrape(client))["registered"] - before["registered"] == 1


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the response cache and lock timeouts"
)


@postgresql_only
def test_cache_hits_and_misses_are_counted_and_a_hit_is_still_a_request(client, event_factory):
    event_factory()
    before = scrape(client)

    first = client.get("/api/events/", HTTP_X_REQUEST_ID="first-read")
    second = client.get("/api/events/", HTTP_X_REQUEST_ID="second-read")
    after = scrape(client)

    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    for result, expected in (("miss", 1), ("hit", 1)):
        name = "events_response_cache_requests_total"
        assert value(after, name, result=result) - value(before, name, result=result) == expected
    requests = ("http_requests_total", {"view": "event-list", "status": "200"})
    assert value(after, requests[0], **requests[1]) - value(before, requests[0], **requests[1]) == 2
    # Each answer carries its own request's id: the stored one carried none.
    assert first["X-Request-ID"] == "first-read"
    assert second["X-Request-ID"] == "second-read"
