"""The demo's page in headless Chromium (tests/browser.py): on a phone the chat gets most of
the screen; on a laptop all six people fit side by side; the organizer's board link opens the
live board, served by the demo itself; the organizer's WhatsApp link opens the chat of the
attendee on WhatsApp, whose reply buttons are tapped like Telegram's; once the night is over
the controls say so and start a new one. Screenshots in test-artifacts/demo-*.png."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient

from companion_bot.demo.session import Nights
from tests.browser import LAPTOP, PHONE, screenshot, set_screen, severe_console_messages, wait_until

# Where each persona's column is on the screen, and the page's own size.
LAYOUT = """
const box = (node) => { const r = node.getBoundingClientRect();
  return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, height: r.height}; };
const columns = document.getElementById("columns");
return {
  width: document.documentElement.clientWidth,
  height: window.innerHeight,
  scrollWidth: document.documentElement.scrollWidth,
  columns: Array.from(document.querySelectorAll(".column")).map(box),
  strip: {clientWidth: columns.clientWidth, scrollWidth: columns.scrollWidth},
  tabs: getComputedStyle(document.getElementById("tabs")).display !== "none",
};
"""


def shown(driver, element_id: str) -> bool:
    return driver.execute_script(
        "const node = document.getElementById(arguments[0]);"
        "return !node.hidden && node.getBoundingClientRect().width > 0;",
        element_id,
    )


def chat_text(driver, key: str) -> str:
    """Her chat's messages (not the buttons under it)."""
    return driver.execute_script(
        "return document.querySelector(`#persona-${arguments[0]} .messages`).textContent", key
    )


async def open_page(driver, client: TestClient, size: tuple[int, int]) -> None:
    set_screen(driver, size)
    await asyncio.to_thread(driver.get, str(client.make_url("/?lang=en")))
    await wait_until(driver, lambda d: "de service" in chat_text(d, "samira"), "the chats")


async def test_the_page_on_a_phone_and_on_a_laptop(client: TestClient, browser) -> None:
    await open_page(browser, client, PHONE)
    layout = browser.execute_script(LAYOUT)
    assert layout["scrollWidth"] == layout["width"] == PHONE[0]  # nothing sticks out
    first = layout["columns"][0]
    # One chat per screen width, most of the screen's height; the others a tab away.
    assert first["left"] >= 0 and first["right"] <= PHONE[0]
    assert first["height"] >= 0.7 * layout["height"], layout
    assert layout["tabs"]
    assert await screenshot(browser, "demo-phone.png") == PHONE

    await open_page(browser, client, LAPTOP)
    layout = browser.execute_script(LAYOUT)
    assert len(layout["columns"]) == 6
    for column in layout["columns"]:  # the organizer's too: nobody cut off
        assert 0 <= column["left"] and column["right"] <= LAPTOP[0], layout
    assert layout["strip"]["scrollWidth"] <= layout["strip"]["clientWidth"]
    assert not layout["tabs"]
    assert await screenshot(browser, "demo-laptop.png") == LAPTOP
    assert severe_console_messages(browser) == []


async def test_the_board_link_and_a_new_night(client: TestClient, nights: Nights, browser) -> None:
    from selenium.webdriver.common.by import By

    await open_page(browser, client, LAPTOP)
    composer = browser.find_element(By.CSS_SELECTOR, "#persona-jo .composer input")
    composer.send_keys("/dashboard\n")
    link = await wait_until(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, "#persona-jo a.link[href^='/board/']"),
        "the board link in the organizer's chat",
    )
    page = browser.current_window_handle
    link[0].click()
    await wait_until(browser, lambda d: len(d.window_handles) == 2, "the board's tab")
    browser.switch_to.window(next(h for h in browser.window_handles if h != page))
    signed_up = "const n = document.querySelector('[data-count=signed_up]'); return n?.textContent"
    await wait_until(browser, lambda d: d.execute_script(signed_up) == "8", "the live board")
    assert nights.demo.event.localized("name", "en") in browser.title
    # Nobody waiting, no alert: nothing coloured as an alarm.
    colours = browser.execute_script(
        "return ['signed_up', 'unplaced', 'open_alerts'].map(k => getComputedStyle("
        "document.querySelector(`[data-count='${k}']`)).color)"
    )
    assert colours[0] == colours[1] == colours[2], colours
    assert severe_console_messages(browser) == []
    browser.close()
    browser.switch_to.window(page)

    # The whole night, played from another tab: this one follows, then says it is over.
    for _ in range(40):
        response = await client.post("/api/night/next?lang=en", json={})
        if (await response.json())["night_over"]:
            break
    await wait_until(browser, lambda d: shown(d, "over"), "the night is over")
    assert not any(shown(browser, control) for control in ("play", "next", "later"))
    assert shown(browser, "new-night")
    browser.find_element(By.ID, "new-night").click()
    await wait_until(browser, lambda d: shown(d, "play"), "a new night's controls")
    assert not shown(browser, "over") and not shown(browser, "new-night")
    await wait_until(browser, lambda d: "/dashboard" not in chat_text(d, "jo"), "fresh chats")
    assert "de service" in chat_text(browser, "samira")  # she is French
    assert severe_console_messages(browser) == []


async def test_the_attendee_on_whatsapp(client: TestClient, browser) -> None:
    from selenium.webdriver.common.by import By

    await open_page(browser, client, LAPTOP)
    header = browser.find_element(By.CSS_SELECTOR, "#persona-zoe .who").text
    assert "Zoé" in header and "Attendee · on WhatsApp · FR" in header
    # The organizer's WhatsApp link types the event's code in Zoé's chat, and sends it.
    composer = browser.find_element(By.CSS_SELECTOR, "#persona-jo .composer input")
    composer.send_keys("/myevents\n")
    links = await wait_until(
        browser,
        lambda d: [
            link
            for link in d.find_elements(By.CSS_SELECTOR, "#persona-jo button.link")
            if link.text.startswith("https://wa.me/")
        ],
        "the WhatsApp link in the organizer's chat",
    )
    links[-1].click()
    await wait_until(browser, lambda d: "Quelle langue" in chat_text(d, "zoe"), "her question")
    french = browser.find_element(By.XPATH, "//*[@id='persona-zoe']//button[.='✓ Français']")
    french.click()
    await wait_until(browser, lambda d: "charte" in chat_text(d, "zoe"), "the next question")
    mine = browser.find_elements(By.CSS_SELECTOR, "#persona-zoe .message.me")
    assert [m.find_element(By.CSS_SELECTOR, ".text").text for m in mine][-1] == "✓ Français"
    assert await screenshot(browser, "demo-whatsapp.png") == LAPTOP
    assert severe_console_messages(browser) == []
