"""The admin in a real browser: headless Chromium, driven by Selenium, against the live server.

Chromium and its driver come from Debian (`apt-get install chromium chromium-driver`); nothing
is ever downloaded. Without them the test skips, unless REQUIRE_BROWSER=1, where it fails.
Set ADMIN_SCREENSHOT=docs/images/admin-events.png to save the event list it sees for the admin
guide (docs/guides/admin.md).
"""

import csv
import io
import os
import shutil
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from core.models import Attendee, Event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_passwords")]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROME_ARGUMENTS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1500,860",
]
WAIT_SECONDS = 20
PASSWORD = "organiser-password"


def require_chromium() -> None:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if not missing:
        return
    reason = (
        f"headless Chromium is not installed ({' and '.join(missing)} missing); "
        "install it with: apt-get install chromium chromium-driver"
    )
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1, but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def downloads(tmp_path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


@pytest.fixture
def browser(tmp_path, downloads):
    """Headless Chromium with a fresh profile, saving downloads to `downloads`."""
    require_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in [*CHROME_ARGUMENTS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    # An explicit driver path: Selenium Manager, which would download one, never runs.
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(5)  # a page still loading on a busy machine is not a failure
    try:
        yield driver
    finally:
        driver.quit()


class Admin:
    """The admin pages as a person works them: open, type, click, read."""

    def __init__(self, driver: WebDriver, url: str):
        self.driver, self.url = driver, url

    def open(self, path: str) -> None:
        self.driver.get(self.url + path)

    def find(self, selector: str):
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def texts(self, selector: str) -> list[str]:
        return [element.text for element in self.driver.find_elements(By.CSS_SELECTOR, selector)]

    def click_and_wait(self, target: str | WebElement) -> None:
        """Click `target` (or what a CSS selector finds), then wait for the next page.

        The page being left is marked on its `window`; the next page is there once a loaded
        document lacks the mark. Asking the browser while it swaps documents may fail in
        several ways (a stale element, a node of the old document, a script cut short), so
        every such answer means "not yet", not a failed test.
        """
        self.driver.execute_script("window.leavingThisPage = true;")
        (self.find(target) if isinstance(target, str) else target).click()
        WebDriverWait(self.driver, WAIT_SECONDS, ignored_exceptions=(WebDriverException,)).until(
            lambda driver: driver.execute_script(
                "return !window.leavingThisPage && document.readyState === 'complete';"
            )
        )

    def event_link(self, name: str) -> WebElement:
        return self.find("#result_list").find_element(By.LINK_TEXT, name)

    def log_in(self, username: str, password: str) -> None:
        self.open("/admin/login/?next=/admin/")
        self.find("#id_username").send_keys(username)
        self.find("#id_password").send_keys(password)
        self.click_and_wait("input[type=submit]")

    def styled(self) -> bool:
        """Whether the admin's stylesheet loaded: the header has its background colour."""
        header = self.find("#header")
        return header.value_of_css_property("background-color") != "rgba(0, 0, 0, 0)"

    def event_row(self, name: str) -> dict[str, str]:
        """The event list's row for `name`, each cell's text under its column's field name."""
        row = self.event_link(name).find_element(By.XPATH, "./ancestor::tr")
        cells = row.find_elements(By.CSS_SELECTOR, "[class^=field-]")
        return {
            cell.get_attribute("class").split()[0].removeprefix("field-"): cell.text
            for cell in cells
        }

    def add_attendee_row(self, name: str, email: str) -> None:
        """On an event's page: "Add another Attendee", type into the new row, save."""
        index = self.find("#id_attendees-TOTAL_FORMS").get_attribute("value")
        self.find("#attendees-group .add-row a").click()
        self.find(f"#id_attendees-{index}-name").send_keys(name)
        self.find(f"#id_attendees-{index}-email").send_keys(email)
        self.click_and_wait("input[name=_continue]")

    def tick_delete(self, email: str) -> None:
        row = self.driver.find_element(
            By.XPATH, f"//td[contains(@class, 'field-email')][normalize-space()='{email}']/.."
        )
        row.find_element(By.CSS_SELECTOR, "input[name$='-DELETE']").click()


def seat(event: Event, count: int) -> Event:
    """Give `count` made-up people a seat at `event`, past or not, as the services would."""
    Attendee.objects.bulk_create(
        Attendee(event=event, name=f"Guest {i}", email=f"guest{i}@example.com")
        for i in range(count)
    )
    Event.objects.filter(pk=event.pk).update(seats_taken=count)
    return event


def wait_for_download(folder: Path) -> Path:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        done = [path for path in folder.iterdir() if path.suffix == ".csv"]
        if done:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no CSV was downloaded; {folder} holds {list(folder.iterdir())}")


def test_organiser_runs_an_event_from_the_admin(
    browser, downloads, live_server, django_user_model, event_factory, in_days, tmp_path
):
    django_user_model.objects.create_superuser("organiser", "organiser@example.com", PASSWORD)
    for name, location, days, capacity, taken in [
        ("Winter Python Meetup", "Kulturbrauerei, Berlin", -20, 40, 40),
        ("Data Engineering Day", "Hall B, Amsterdam", -0.05, 120, 84),
        ("Django Sprint", "Café Central, Vienna", 12, 20, 19),
        ("Rust Workshop", "Lab 4, Zürich", 30, 16, 4),
        ("Postgres Performance Clinic", "Online", 45, 50, 0),
        ("Launch Party", "Dock 5, Hamburg", 60, 8, 8),
    ]:
        seat(
            event_factory(
                name=name, location=location, start_time=in_days(days), max_capacity=capacity
            ),
            taken,
        )
    meetup = event_factory(
        name="Browser Meetup", location="Room 1, Lisbon", start_time=in_days(3), max_capacity=3
    )
    Attendee.objects.create(event=meetup, name="Ada Lovelace", email="ada@example.com")
    Event.objects.filter(pk=meetup.pk).update(seats_taken=1)
    admin = Admin(browser, live_server.url)

    # Log in as staff and see the event list, styled, with each event's fill bar.
    admin.log_in("organiser", PASSWORD)
    admin.open("/admin/core/event/")
    assert admin.styled(), "the admin's CSS did not load"
    assert admin.event_row("Browser Meetup") | {"start_time": ""} == {
        "name": "Browser Meetup",
        "location": "Room 1, Lisbon",
        "start_time": "",
        "timing": "upcoming",
        "status": "Scheduled",
        "max_capacity": "3",
        "attendee_count": "1",
        "waitlist_count": "0",
        "fill": "███░░░░░░░ 33%",
        "owner": "-",  # made outside the admin and the API: nobody's
    }
    assert admin.event_row("Data Engineering Day")["timing"] == "in progress"
    assert admin.event_row("Launch Party")["fill"] == "██████████ 100%"
    admin.find("#toggle-nav-sidebar").click()  # room for the whole table in the screenshot
    screenshot = tmp_path / "admin-events.png"
    assert browser.save_screenshot(str(screenshot))
    if target := os.environ.get("ADMIN_SCREENSHOT"):
        shutil.copyfile(screenshot, target)

    # Open the event and add attendees on its page until it is full.
    admin.click_and_wait(admin.event_link("Browser Meetup"))
    admin.add_attendee_row("Grace Hopper", "grace@example.com")
    assert admin.texts(".messagelist .success")[0].startswith("The event “Browser Meetup”")
    admin.add_attendee_row("Alan Turing", "alan@example.com")
    assert "3 of 3 taken" in admin.find(".field-seats").text
    admin.add_attendee_row("Late Comer", "late@example.com")
    assert admin.texts(".errornote") == ["Please correct the error below."]
    assert admin.texts(".errorlist li") == ["This event is full: every seat has been taken."]

    # Export the attendee list as CSV from the event's page.
    admin.open(f"/admin/core/event/{meetup.pk}/change/")
    admin.find("a.attendees-csv").click()
    download = wait_for_download(downloads)
    rows = list(csv.reader(io.StringIO(download.read_text(encoding="utf-8-sig"))))
    assert [row[:3] for row in rows] == [
        ["name", "email", "event"],
        ["Ada Lovelace", "ada@example.com", "Browser Meetup"],
        ["Grace Hopper", "grace@example.com", "Browser Meetup"],
        ["Alan Turing", "alan@example.com", "Browser Meetup"],
    ]

    # Delete one attendee and see the seat come back in the list.
    admin.tick_delete("grace@example.com")
    admin.click_and_wait("input[name=_save]")
    assert admin.driver.current_url.endswith("/admin/core/event/")
    row = admin.event_row("Browser Meetup")
    assert (row["attendee_count"], row["fill"]) == ("2", "██████░░░░ 66%")
    meetup.refresh_from_db()
    assert meetup.seats_taken == meetup.attendees.count() == 2
