"""The demo running in the test (its first night open, its page served on 127.0.0.1), and the
browser fixture (tests/browser.py) for the page tests here."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from companion_bot.demo.session import Demo, Nights, open_nights
from companion_bot.demo.web import create_demo_app
from tests.browser import browser  # noqa: F401 - a fixture


@pytest_asyncio.fixture
async def nights(db: str) -> AsyncIterator[Nights]:
    async with open_nights(db, language="en") as running:
        yield running


@pytest_asyncio.fixture
async def demo(nights: Nights) -> Demo:
    """The first night."""
    return nights.demo


@pytest_asyncio.fixture
async def client(nights: Nights) -> AsyncIterator[TestClient]:
    """The page's server, which serves the live board too (as `companion-bot demo` does)."""
    server = TestServer(create_demo_app(nights, language="en"), host="127.0.0.1")
    async with TestClient(server) as running:
        nights.serve_board_at(("127.0.0.1", server.port))
        yield running
