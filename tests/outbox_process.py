"""A bare outbox worker in a process of its own, for the multi-process tests:

    python -m tests.outbox_process DATABASE_URL API_URL TOKEN RATE

Prints "ready" once the worker runs (RATE messages per second, 0 for no pacing) and stops
on SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from telegram.ext import ExtBot

from companion_bot.db import close_database, open_database
from companion_bot.telegram_sender import TelegramSender
from companion_bot.workers import OutboxWorker, SharedRateLimiter


async def main(database_url: str, api_url: str, token: str, rate: float) -> None:
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    await open_database(database_url)
    limiter = SharedRateLimiter(rate) if rate > 0 else None
    bot = ExtBot(token, base_url=f"{api_url}/bot", rate_limiter=limiter)
    try:
        async with bot:
            worker = OutboxWorker(TelegramSender(bot))
            await worker.start()
            print("ready", flush=True)
            await stop.wait()
            await worker.stop()
    finally:
        await close_database()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    database_url, api_url, token, rate = sys.argv[1:5]
    asyncio.run(main(database_url, api_url, token, float(rate)))
