"""Attendees' emails stay private: no answer a stranger can get holds one.

The sample data is loaded and a few more people register; then everything a caller who is not
the event's owner can ask for (lists, details, every kind of error, the schema and the docs
page) is read and searched for every attendee's email.
"""

import pytest
from django.conf import settings as django_settings

from core.models import Attendee, Event
from core.sample_data import load_sample_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def attendees_emails(event_factory, in_days, api_client) -> list[str]:
    load_sample_data(
        events_path=django_settings.BASE_DIR / "events.csv",
        attendees_path=django_settings.BASE_DIR / "attendees.csv",
    )
    full = event_factory(name="Full", max_capacity=1)
    roomy = event_factory(name="Roomy")
    started = event_factory(name="Started", start_time=in_days(-1), end_time=in_days(1))
    Attendee.objects.create(event=started, name="Early", email="early.bird@example.net")
    for event, email in [(full, "ada.private@example.org"), (roomy, "B@Bücher.de")]:
        body = {"name": "Someone", "email": email}
        response = api_client.post(f"/api/events/{event.pk}/register/", body, format="json")
        assert response.status_code == 201
    return [email.lower() for email in Attendee.objects.values_list("email", flat=True)]


def answers(client) -> dict[str, bytes]:
    """Every answer a stranger can get, by what was asked: each event's detail and attendee
    list, and each attendee's registration tried again, which the API refuses."""
    asked = {
        "list": client.get("/api/events/", {"page_size": 100}),
        "search": client.get("/api/events/", {"search": "example"}),
        "schema (YAML)": client.get("/api/schema/"),
        "schema (JSON)": client.get("/api/schema/", HTTP_ACCEPT="application/json"),
        "docs": client.get("/api/docs/"),
    }
    for event in Event.objects.all():
        path = f"/api/events/{event.pk}/"
        asked[f"{event} detail"] = client.get(path)
        asked[f"{event} attendees"] = client.get(f"{path}attendees/")
    for attendee in Attendee.objects.select_related("event"):
        path = f"/api/events/{attendee.event_id}/register/"
        for email in (attendee.email, f"  {attendee.email.upper()} ", f"{attendee.email}@"):
            body = {"name": attendee.name, "email": email}
            asked[f"{email} again at {attendee.event}"] = client.post(path, body, format="json")
        asked[f"{attendee.email} in a path"] = client.get(f"/api/{attendee.email}/")
    return {what: response.content for what, response in asked.items()}


@pytest.mark.parametrize("caller", ["anonymous", "user", "other organiser"])
def test_no_answer_to_a_stranger_holds_an_attendees_email(
    attendees_emails, caller, api_client, token_client, user_factory, organiser_factory, settings
):
    settings.API_OPEN_ACCESS = False
    client = {
        "anonymous": api_client,
        "user": token_client(user_factory()),
        "other organiser": token_client(organiser_factory()),
    }[caller]
    seen = answers(client)

    # Refusals included: a repeat registration, a full event, a started one, a malformed email.
    assert any(b"already_registered" in body for body in seen.values())
    assert any(b"event_full" in body for body in seen.values())
    assert any(b"registration_closed" in body for body in seen.values())
    leaks = {
        what: email
        for what, body in seen.items()
        for email in attendees_emails
        if email.encode() in body.lower()
    }
    assert leaks == {}
