"""Deterministic synchronisation between a test, the emulator and a PTB Application."""

from __future__ import annotations

import asyncio
from typing import Any

from .server import BotApiEmulator


async def settle(
    emulator: BotApiEmulator,
    application: Any,
    timeout: float = 5.0,  # noqa: ASYNC109 - mirrors wait_delivered
) -> None:
    """Return once the application fetched every queued update and its handlers finished.

    PTB puts fetched updates into `application.update_queue` before its next getUpdates
    confirms them, so "all confirmed" followed by `update_queue.join()` means handled.
    Work that handlers push elsewhere (`block=False`, `create_task`, jobs) is not awaited.
    """
    bot = next((b for b in emulator.bots.values() if b.token == application.bot.token), None)
    if bot is None:
        raise ValueError("the application's token is not a bot of this emulator")
    async with asyncio.timeout(timeout):
        while True:
            await emulator.wait_all_delivered(bot, timeout)
            await application.update_queue.join()
            if not bot.pending:  # handlers may have caused new updates meanwhile
                return
