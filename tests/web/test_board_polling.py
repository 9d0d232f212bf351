"""In long-polling mode too, the bot serves its web app: the organizers' live board is
reachable, and /dashboard links to the port the server really listens on. A taken port costs
the board, never the bot."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import aiohttp

from companion_bot.app import build_application, serve_polling
from companion_bot.emulator import BotApiEmulator, EmulatedUser, settle
from companion_bot.services.board import WEB_ADDRESS_KEY
from handlers.flood import FloodGuard
from tests.support import harness_settings


@contextlib.asynccontextmanager
async def polling_bot(db: str, web_port: int) -> AsyncIterator[tuple]:
    async with BotApiEmulator() as emulator:
        settings = harness_settings(db, emulator).model_copy(update={"WEB_PORT": web_port})
        application = build_application(settings)
        application.bot_data["flood_guard"] = FloodGuard(capacity=10_000)
        stop = asyncio.Event()
        running = asyncio.create_task(serve_polling(application, stop))
        try:
            async with asyncio.timeout(20):
                # serve_polling tells nobody it has started: look.
                while not application.running:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            yield emulator, application
        finally:
            stop.set()
            await running


async def dashboard(emulator, application, event) -> EmulatedUser:
    orga = emulator.user(first_name="Orga", language_code="en")
    await orga.send_command("/start", event.organizer_code)
    await settle(emulator, application)
    await orga.send_command("/dashboard")
    await settle(emulator, application)
    await event.refresh_from_db()
    return orga


async def test_polling_mode_serves_the_board(db: str, event) -> None:
    async with polling_bot(db, web_port=0) as (emulator, application):
        _host, port = application.bot_data[WEB_ADDRESS_KEY]
        orga = await dashboard(emulator, application, event)
        link = f"http://127.0.0.1:{port}/board/{event.board_token}"
        assert link in orga.last_text()
        async with aiohttp.ClientSession() as session, session.get(link) as response:
            assert response.status == 200
            assert "Nuit Compagnonnes" in await response.text()


async def test_a_taken_port_leaves_the_bot_running(db: str, event, caplog) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with polling_bot(db, web_port=port) as (emulator, application):
            assert WEB_ADDRESS_KEY not in application.bot_data
            orga = await dashboard(emulator, application, event)
            assert "0 signed up" in orga.last_text() and "/board/" in orga.last_text()
    assert "No web server, so no live board" in caplog.text
