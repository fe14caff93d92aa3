"""Each write anyone may attempt names its own throttle scope, so each spends its own budget
once DRF's ScopedRateThrottle is on: registering ("register"), creating an event ("create")
and signing in ("token")."""

import pytest
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.throttling import ScopedRateThrottle

from api.auth.views import TokenView
from api.events.views import EventViewSet

pytestmark = pytest.mark.django_db

EVENT = {
    "name": "Launch", "location": "Dock 5", "max_capacity": 5,
    "start_time": "2031-03-15T09:00:00Z", "end_time": "2031-03-15T12:00:00Z",
}  # fmt: skip
BUDGETS = {"register": "2/min", "create": "1/min", "token": "1/min"}


@pytest.fixture(autouse=True)
def scoped_budgets(monkeypatch, settings):
    """The scoped throttle on these views, with small budgets counted in a cache of their own."""
    settings.API_OPEN_ACCESS = True
    monkeypatch.setattr(ScopedRateThrottle, "cache", LocMemCache("throttle-scopes", {}))
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", BUDGETS)
    for view in (EventViewSet, TokenView):
        monkeypatch.setattr(view, "throttle_classes", [ScopedRateThrottle])


def test_registering_creating_and_signing_in_spend_separate_budgets(api_client, event_factory):
    event = event_factory()

    def register(n: int) -> int:
        body = {"name": "Ada", "email": f"ada{n}@example.com"}
        return api_client.post(f"/api/events/{event.pk}/register/", body, format="json").status_code

    def create() -> int:
        return api_client.post("/api/events/", EVENT, format="json").status_code

    def sign_in() -> int:
        body = {"username": "nobody", "password": "wrong password"}
        return api_client.post("/api/auth/token/", body, format="json").status_code

    assert [register(1), register(2), create(), sign_in()] == [201, 201, 201, 401]
    refused = api_client.post(
        f"/api/events/{event.pk}/register/", {"name": "Ada", "email": "a@x.io"}, format="json"
    )
    assert [create(), sign_in()] == [429, 429]
    assert (refused.status_code, refused.json()["code"]) == (429, "throttled")
    # Reading is no write: never throttled.
    assert api_client.get(f"/api/events/{event.pk}/").status_code == 200
