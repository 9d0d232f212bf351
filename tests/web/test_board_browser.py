"""The live board in a real browser: headless Chromium (tests/browser.py) on a phone's screen,
against the board served on localhost. It renders the counts and each member's status, follows
the night live (a member taps "I'm home" through the services and the page changes by itself),
speaks French, sends no request elsewhere, and leaves a screenshot in test-artifacts/board.png.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest_asyncio
from aiohttp.test_utils import TestServer

from companion_bot.models import HelpAlert, HelpStatus, Unplaced
from companion_bot.services import board, closing
from companion_bot.web import board as web_board
from companion_bot.web import create_app
from tests.browser import PHONE, screenshot, set_screen, severe_console_messages, wait_until
from tests.support import BotHarness
from tests.web.seed import ATTENDEES, Night, seed_night


@pytest_asyncio.fixture
async def served(harness: BotHarness, monkeypatch) -> AsyncIterator[TestServer]:
    monkeypatch.setattr(web_board, "POLL_SECONDS", 1)
    server = TestServer(create_app(harness.application, harness.settings), host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


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


def colour(driver, key: str) -> str:
    return driver.execute_script(
        "return getComputedStyle(document.querySelector(`[data-count='${arguments[0]}']`)).color",
        key,
    )


def text_of(driver, selector: str) -> str:
    return driver.execute_script("return document.querySelector(arguments[0]).textContent",
                                 selector)  # fmt: skip


async def test_the_board_in_chromium(served: TestServer, browser, event) -> None:
    night: Night = await seed_night(event)
    token = await board.board_token(night.event)
    url = str(served.make_url(f"/board/{token}"))

    # A phone's width, and tall: the screenshot shows the whole board.
    screen = (PHONE[0], 1600)
    set_screen(browser, screen)
    await asyncio.to_thread(browser.get, url + "?lang=en")
    await wait_until(browser, lambda d: count(d, "signed_up") == "7", "signed-up count")
    assert count(browser, "unplaced") == "1" and count(browser, "open_alerts") == "2"
    # Something to see to: coloured as such.
    neutral = colour(browser, "signed_up")
    assert colour(browser, "open_alerts") != neutral and colour(browser, "unplaced") != neutral
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
    assert await screenshot(browser, "board.png") == screen

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

    # Nothing left to see to: zero is not an alarm.
    await HelpAlert.filter(event=night.event).update(status=HelpStatus.CLOSED)
    await Unplaced.filter(event=night.event).delete()
    await wait_until(browser, lambda d: count(d, "open_alerts") == "0", "alerts closed")
    assert count(browser, "unplaced") == "0"
    assert colour(browser, "open_alerts") == neutral and colour(browser, "unplaced") == neutral

    # No script error and no blocked request (the page's Content-Security-Policy).
    assert severe_console_messages(browser) == []
