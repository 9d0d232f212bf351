"""The live board in a real browser: Debian's headless Chromium driven by Selenium, against
the board served on localhost. It renders the counts and each member's status, follows the
night live (a member taps "I'm home" through the services and the page changes by itself),
speaks French, sends no request elsewhere, and leaves a screenshot in test-artifacts/board.png.

Needs /usr/bin/chromium and /usr/bin/chromedriver (`apt-get install chromium chromium-driver`,
done by .ci/run). Without them the test is skipped, except under CI=true where it fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from companion_bot.services import board, closing
from companion_bot.web import board as web_board
from companion_bot.web import create_app
from tests.support import BotHarness
from tests.web.seed import ATTENDEES, Night, seed_night

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WAIT = 20  # seconds at most for the page to show a change (it polls every second here)


def browser_or_skip() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install -e '.[test]')")
    if not missing:
        return
    reason = f"browser test needs {', '.join(missing)} (apt-get install chromium chromium-driver)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " — required under CI=true")
    pytest.skip(reason)


def start_driver(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}",
        # A phone's screen: the board is mostly read on one, at the door.
        "--window-size=412,1600",
    ):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The driver's path is given: selenium-manager has nothing to look up or download.
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


@pytest_asyncio.fixture
async def served(harness: BotHarness, monkeypatch) -> AsyncIterator[TestServer]:
    monkeypatch.setattr(web_board, "POLL_SECONDS", 1)
    server = TestServer(create_app(harness.application, harness.settings), host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@pytest_asyncio.fixture
async def browser(tmp_path: Path):
    browser_or_skip()
    driver = await asyncio.to_thread(start_driver, tmp_path / "chromium-profile")
    try:
        yield driver
    finally:
        await asyncio.to_thread(driver.quit)


async def wait_until(driver, condition: Callable, message: str):
    """Selenium blocks: it waits in a thread while this loop serves the page."""
    from selenium.webdriver.support.ui import WebDriverWait

    return await asyncio.to_thread(
        WebDriverWait(driver, WAIT, poll_frequency=0.1).until, condition, message
    )


# The page redraws itself every second: read it in one script, not element by element.
READ_MEMBER = """
for (const item of document.querySelectorAll("li.member")) {
  if (item.querySelector(".name").textContent === arguments[0]) {
    return [item.dataset.state, item.querySelector(".status").textContent];
  }
}
return null;
"""


def member_state(name: str) -> Callable:
    def read(driver):
        found = driver.execute_script(READ_MEMBER, name)
        return tuple(found) if found else None

    return read


def count(driver, key: str) -> str:
    return driver.execute_script(
        "return document.querySelector(`[data-count='${arguments[0]}']`).textContent", key
    )


def text_of(driver, selector: str) -> str:
    return driver.execute_script("return document.querySelector(arguments[0]).textContent",
                                 selector)  # fmt: skip


async def test_the_board_in_chromium(served: TestServer, browser, event) -> None:
    night: Night = await seed_night(event)
    token = await board.board_token(night.event)
    url = str(served.make_url(f"/board/{token}"))

    await asyncio.to_thread(browser.get, url + "?lang=en")
    await wait_until(browser, lambda d: count(d, "signed_up") == "7", "signed-up count")
    assert count(browser, "unplaced") == "1" and count(browser, "open_alerts") == "2"
    assert member_state("Béatrice")(browser) == ("at_point", "at the meeting point")
    assert member_state("Fatou")(browser) == ("no_news", "no news")
    alerts = text_of(browser, "#alerts")
    assert "Gaëlle" in alerts and "Nobody has taken it yet" in alerts and "Taken by Zoé" in alerts
    await wait_until(browser, lambda d: "Updated at" in text_of(d, "#updated"),
                     "first poll")  # fmt: skip

    # Emma taps "I'm home" in Telegram: the page shows it by itself, without a reload.
    await closing.home(ATTENDEES["Emma"][0], night.registrations["Emma"].id)
    await wait_until(browser, lambda d: member_state("Emma")(d) == ("home", "home"),
                     "Emma home on the board")  # fmt: skip
    ARTIFACTS.mkdir(exist_ok=True)
    assert await asyncio.to_thread(browser.save_screenshot, str(ARTIFACTS / "board.png"))

    # QR codes are images the browser could load (served by us, not a CDN).
    loaded = browser.execute_script(
        "return Array.from(document.images).map(i => [i.naturalWidth, i.src])"
    )
    assert len(loaded) == 2 and all(width > 0 for width, _ in loaded), loaded
    assert all(src.startswith(f"http://127.0.0.1:{served.port}/") for _, src in loaded)

    await asyncio.to_thread(browser.get, url + "?lang=fr")
    await wait_until(browser, lambda d: member_state("Dounia")(d) == ("home", "rentrée"),
                     "French statuses")  # fmt: skip
    assert browser.execute_script("return document.documentElement.lang") == "fr"
    assert "alertes d’aide ouvertes" in text_of(browser, ".counts")
    assert member_state("Emma")(browser) == ("home", "rentrée")

    # No script error and no blocked request (the page's Content-Security-Policy).
    problems = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert problems == []
