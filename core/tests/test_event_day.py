"""The event-day page in the admin: checked in of seats, not yet arrived or no-shows, arrivals
and registrations over time drawn on the server, refreshed while open; and in Chromium.

Set EVENT_DAY_SCREENSHOT=docs/images/event-day.png to save the page the browser test sees.
"""

import os
from datetime import timedelta

import pytest
from django.utils import timezone
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from core.models import Attendee, CheckIn, Event
from core.tests.test_admin_browser import (
    CHROME_ARGUMENTS,
    CHROMEDRIVER,
    CHROMIUM,
    PASSWORD,
    Admin,
    require_chromium,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")


def event_day(event_factory, *, seats: int, arrived: int, ended: bool = False) -> Event:
    """An event whose doors opened an hour ago: `seats` registered over the last days, of whom
    `arrived` came in, a few every minute."""
    now = timezone.now()
    start = now - timedelta(hours=4 if ended else 0, minutes=-30)
    event = event_factory(
        name="Data Engineering Day",
        start_time=start,
        end_time=start + timedelta(hours=3),
        max_capacity=seats,
    )
    people = Attendee.objects.bulk_create(
        Attendee(event=event, name=f"Guest {i}", email=f"guest{i}@example.com")
        for i in range(seats)
    )
    for index, person in enumerate(people):
        Attendee.objects.filter(pk=person.pk).update(
            registered_at=now - timedelta(days=index % 6, hours=index % 5)
        )
    opened = now - timedelta(hours=1)
    CheckIn.objects.bulk_create(
        CheckIn(
            event=event,
            registration_id=person.pk,
            name=person.name,
            checked_in_at=opened + timedelta(minutes=index * 50 // arrived),
        )
        for index, person in enumerate(people[:arrived])
    )
    return event


@pytest.mark.django_db
def test_the_page_counts_the_door_and_draws_its_charts(client, event_factory, admin_user):
    event = event_day(event_factory, seats=40, arrived=25)
    client.force_login(admin_user)

    response = client.get(f"/admin/core/event/{event.pk}/day/")

    assert response.status_code == 200
    text = response.content.decode()
    assert "25 of 40" in text
    assert "Not yet arrived" in text
    assert '<meta http-equiv="refresh" content="30">' in text
    assert text.count('class="bar"') >= 10 + 6
    assert "<script" not in text.split('<div class="event-day">')[1]


@pytest.mark.django_db
def test_after_the_event_the_absent_are_no_shows(client, event_factory, admin_user):
    event = event_day(event_factory, seats=10, arrived=7, ended=True)
    client.force_login(admin_user)

    text = client.get(f"/admin/core/event/{event.pk}/day/").content.decode()

    assert "No-shows" in text
    assert "7 of 10" in text


@pytest.mark.django_db
def test_staff_without_the_view_permission_are_refused(client, event_factory, staff_factory):
    event = event_factory()
    client.force_login(staff_factory())

    assert client.get(f"/admin/core/event/{event.pk}/day/").status_code == 403
    assert client.get("/admin/core/event/999999/day/").status_code == 404


@pytest.fixture
def browser(tmp_path):
    require_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in [*CHROME_ARGUMENTS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.mark.django_db(transaction=True)
def test_the_event_day_in_chromium(browser, live_server, event_factory, django_user_model):
    django_user_model.objects.create_superuser("organiser", "organiser@example.com", PASSWORD)
    event = event_day(event_factory, seats=120, arrived=84)
    admin = Admin(browser, live_server.url)
    admin.log_in("organiser", PASSWORD)
    admin.open(f"/admin/core/event/{event.pk}/change/")

    admin.click_and_wait(".event-day-link")

    assert admin.find("#checked-in").text == "84 of 120\nchecked in"
    assert admin.find("#absent").text == "36\nNot yet arrived"
    arrivals = browser.find_elements(By.CSS_SELECTOR, "#arrivals rect.bar")
    assert len(arrivals) >= 10
    assert max(bar.size["height"] for bar in arrivals) > 20
    assert browser.find_elements(By.CSS_SELECTOR, "#registrations rect.bar")
    if os.environ.get("EVENT_DAY_SCREENSHOT"):
        browser.save_screenshot(os.environ["EVENT_DAY_SCREENSHOT"])
