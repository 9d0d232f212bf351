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
    """Return once the bot took every queued update, handled it, and sent what it answered.

    Our bot confirms an update (its next getUpdates, or its webhook's answer) only once the
    update is stored; its workers (`application.bot_data["workers"]`, see
    companion_bot/workers) then handle it and send the replies it queued. Work queued for
    later (reminders) is not awaited. A plain PTB application puts fetched updates into its
    `update_queue` before its next getUpdates confirms them, so "all confirmed" followed by
    `update_queue.join()` means handled.
    """
    bot = next((b for b in emulator.bots.values() if b.token == application.bot.token), None)
    if bot is None:
        raise ValueError("the application's token is not a bot of this emulator")
    async with asyncio.timeout(timeout):
        while True:
            await emulator.wait_all_delivered(bot, timeout)
            workers = application.bot_data.get("workers")
            if workers is not None:
                await workers.wait_idle(timeout)
            else:
                await application.update_queue.join()
            if not bot.pending:  # handlers may have caused new updates meanwhile
                return
