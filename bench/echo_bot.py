"""The framework's floor, for `bench/load.py --baseline echo`: a bare python-telegram-bot
application with one handler that answers each message with its own text, behind an aiohttp
webhook as in PTB's custom-webhook example (the update is put on PTB's queue and answered
200 at once: nothing stored, nothing durable), using this project's aiohttp request class.

    TELEGRAM_BOT_TOKEN=… TELEGRAM_API_URL=http://127.0.0.1:… python bench/echo_bot.py

Prints "listening on http://127.0.0.1:PORT" once it serves; stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

from aiohttp import web
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from companion_bot.telegram_http import AiohttpRequest


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await context.bot.send_message(update.effective_chat.id, update.effective_message.text)


async def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    base = os.environ["TELEGRAM_API_URL"].rstrip("/")
    application = (
        Application.builder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(f"{base}/bot")
        .request(AiohttpRequest(connection_pool_size=32))
        .updater(None)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))

    async def receive(request: web.Request) -> web.Response:
        data = json.loads(await request.read())
        await application.update_queue.put(Update.de_json(data, application.bot))
        return web.Response()

    app = web.Application()
    app.router.add_post("/telegram", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with application:
        await application.start()
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"listening on http://127.0.0.1:{port}", file=sys.stderr, flush=True)
        await stop.wait()
        await runner.cleanup()
        await application.stop()


if __name__ == "__main__":
    asyncio.run(main())
