"""The door page in a real browser: headless Chromium against the live server, scanning typed
codes, a QR code shown to its fake camera, and offline scans synced when the network returns.

Chromium and its driver come from Debian, as for the admin's browser test
(core/tests/test_admin_browser.py); without them the test skips, unless REQUIRE_BROWSER=1.
Set DOOR_SCREENSHOT=docs/images/door.png to save the page it sees.
"""

import os

import pytest
import segno
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.wait import WebDriverWait

from api.tokens import issue_device_token
from core.models import CheckIn
from core.services import create_device, register_attendee
from core.tests.test_admin_browser import CHROME_ARGUMENTS, CHROMEDRIVER, CHROMIUM, require_chromium
from core.tickets import issue_ticket

pytestmark = pytest.mark.django_db(transaction=True)

WAIT_SECONDS = 20
FRAME = (640, 480)


def y4m_of(text: str) -> bytes:
    """One frame of YUV4MPEG2 (what Chromium's fake camera plays) showing `text`'s QR code."""
    width, height = FRAME
    qr = segno.make(text, error="m")
    modules = qr.matrix
    scale = min(width, height) // (len(modules) + 8)
    left = (width - len(modules) * scale) // 2
    top = (height - len(modules) * scale) // 2
    luma = bytearray([255]) * (width * height)
    for row, line in enumerate(modules):
        for column, dark in enumerate(line):
            if dark:
                for y in range(top + row * scale, top + (row + 1) * scale):
                    start = y * width + left + column * scale
                    luma[start : start + scale] = bytes(scale)
    chroma = bytes([128]) * (width * height // 4)
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    return header + b"FRAME\n" + bytes(luma) + chroma + chroma


@pytest.fixture
def seat(event_factory):
    event = event_factory(max_capacity=10)
    place = register_attendee(event_id=event.pk, name="Ada Lovelace", email="ada@example.com")
    token, digest = issue_device_token()
    create_device(event_id=event.pk, name="Gate A", token_hash=digest)
    ticket = issue_ticket(event_id=event.pk, registration_id=place.attendee.pk)
    return event, token, ticket


@pytest.fixture
def camera_file(tmp_path, seat):
    path = tmp_path / "ticket.y4m"
    path.write_bytes(y4m_of(seat[2]))
    return path


@pytest.fixture
def browser(tmp_path, camera_file):
    """Headless Chromium whose camera shows the seat's QR code."""
    require_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in [
        *CHROME_ARGUMENTS,
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=420,860",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera_file}",
    ]:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


class Door:
    """The door page as a steward works it."""

    def __init__(self, driver, url: str):
        self.driver, self.url = driver, url

    def sign_in(self, event_id: int, token: str) -> None:
        self.driver.get(f"{self.url}/door/")
        self.driver.find_element(By.ID, "event").send_keys(str(event_id))
        self.driver.find_element(By.ID, "token").send_keys(token, Keys.ENTER)
        WebDriverWait(self.driver, WAIT_SECONDS).until(
            lambda driver: driver.find_element(By.ID, "door").is_displayed()
        )

    def type_code(self, code: str) -> None:
        self.driver.find_element(By.ID, "ticket").send_keys(code, Keys.ENTER)

    def verdict_becomes(self, text: str, *, clear: bool = True) -> tuple[str, str]:
        """Waits until the verdict starts with `text`; its whole text and its colour class. The
        verdict is then cleared, so the next wait cannot be met by this one."""
        verdict = self.driver.find_element(By.ID, "verdict")
        WebDriverWait(self.driver, WAIT_SECONDS).until(
            lambda _: verdict.text.startswith(text), message=f"verdict {verdict.text!r}"
        )
        shown, colour = verdict.text, verdict.get_attribute("class")
        if clear:
            self.driver.execute_script("document.getElementById('verdict').textContent = ''")
        return shown, colour

    def offline(self, offline: bool) -> None:
        self.driver.set_network_conditions(
            offline=offline, latency=0, download_throughput=-1, upload_throughput=-1
        )


def test_typed_codes_are_admitted_once_refused_after_and_forgeries_refused(
    browser, live_server, seat
):
    event, token, ticket = seat
    door = Door(browser, live_server.url)
    door.sign_in(event.pk, token)

    door.type_code(ticket)
    assert door.verdict_becomes("ADMITTED") == ("ADMITTED\nAda Lovelace", "admitted")
    door.type_code(ticket)
    shown, colour = door.verdict_becomes("ALREADY CHECKED IN")
    assert "Ada Lovelace, first at" in shown
    assert "at Gate A" in shown
    assert colour == "refused"
    door.type_code("not a ticket")
    assert door.verdict_becomes("INVALID TICKET")[1] == "refused"
    assert CheckIn.objects.filter(event=event).count() == 1
    if os.environ.get("DOOR_SCREENSHOT"):
        door.type_code(ticket)
        door.verdict_becomes("ALREADY", clear=False)
        browser.save_screenshot(os.environ["DOOR_SCREENSHOT"])


def test_a_qr_code_held_before_the_camera_is_admitted(browser, live_server, seat):
    event, token, _ = seat
    door = Door(browser, live_server.url)
    door.sign_in(event.pk, token)

    browser.find_element(By.ID, "camera").click()

    assert door.verdict_becomes("ADMITTED")[1] == "admitted"
    assert CheckIn.objects.get(event=event).name == "Ada Lovelace"


def test_offline_scans_are_judged_on_the_phone_and_synced_when_the_network_returns(
    browser, live_server, seat
):
    event, token, ticket = seat
    door = Door(browser, live_server.url)
    door.sign_in(event.pk, token)
    tampered = ticket[:60] + ("A" if ticket[60] != "A" else "B") + ticket[61:]

    door.offline(True)
    door.type_code(ticket)
    assert door.verdict_becomes("ADMITTED (OFFLINE)")[1] == "queued"
    door.type_code(ticket)
    assert door.verdict_becomes("ALREADY CHECKED IN")[1] == "refused"
    door.type_code(tampered)
    assert door.verdict_becomes("INVALID TICKET")[1] == "refused"
    assert not CheckIn.objects.exists()

    door.offline(False)
    WebDriverWait(browser, WAIT_SECONDS).until(lambda _: CheckIn.objects.exists())
    checkin = CheckIn.objects.get()
    assert checkin.offline
    assert checkin.name == "Ada Lovelace"
