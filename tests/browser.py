"""Debian's headless Chromium driven by Selenium, for the pages people look at: the live board
and the demo. Needs /usr/bin/chromium and /usr/bin/chromedriver (`apt-get install chromium
chromium-driver`, done by .ci/run); without them a browser test is skipped, except under
CI=true where it fails.

Screens are emulated (Chrome DevTools' device metrics), not set with --window-size: headless
Chromium will not make a window narrower than 500 px, so a phone's 412 px needs emulation."""

from __future__ import annotations

import asyncio
import os
import shutil
import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
WAIT = 20  # seconds at most for a page to show a change
# A common Android phone (CSS pixels), and a laptop.
PHONE = (412, 770)
LAPTOP = (1400, 900)


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
    ):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The driver's path is given: selenium-manager has nothing to look up or download.
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


def set_screen(driver, size: tuple[int, int]) -> None:
    """Lay pages out for a screen of `size` CSS pixels (a phone's is touch and mobile)."""
    width, height = size
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


@pytest_asyncio.fixture
async def browser(tmp_path: Path) -> AsyncIterator:
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


async def screenshot(driver, name: str) -> tuple[int, int]:
    """Save test-artifacts/<name>; returns its size in pixels."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    assert await asyncio.to_thread(driver.save_screenshot, str(path))
    width, height = struct.unpack(">II", path.read_bytes()[16:24])  # the PNG's IHDR
    return width, height


def severe_console_messages(driver) -> list[dict]:
    """Script errors and requests the page's Content-Security-Policy blocked."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
