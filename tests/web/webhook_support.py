"""The bot in webhook mode against the emulator: updates people make in the emulator are
POSTed to the bot's webhook route (as Telegram would), replies land in the emulator."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from telegram.ext import Application

from companion_bot.app import build_application, start_bot, stop_bot
from companion_bot.emulator import BotApiEmulator, EmulatedUser, StoredMessage
from companion_bot.settings import Settings, load_settings
from companion_bot.web import create_app
from companion_bot.web.webhook import SECRET_HEADER
from companion_bot.workers import get_workers
from handlers.flood import FloodGuard
from tests.support import ADMIN_ID

WEBHOOK_URL = "https://bot.example.org/telegram"


def webhook_settings(database_url: str, emulator: BotApiEmulator, **extra: Any) -> Settings:
    return load_settings(
        TELEGRAM_BOT_TOKEN=emulator.token,
        TELEGRAM_API_URL=emulator.url,
        DATABASE_URL=database_url,
        COMPANION_ADMINS=str(ADMIN_ID),
        DEFAULT_LANGUAGE="fr",
        TELEGRAM_RATE_LIMIT=0,
        TELEGRAM_CHAT_INTERVAL=0,
        WEBHOOK_URL=WEBHOOK_URL,
        _env_file=None,
        **extra,
    )


@dataclass
class WebhookHarness:
    emulator: BotApiEmulator
    settings: Settings
    application: Application
    client: TestClient

    def user(self, **kwargs: Any) -> EmulatedUser:
        return self.emulator.user(**kwargs)

    async def post(
        self, body: Any, *, secret: str | None = "default", raw: bytes | None = None
    ) -> ClientResponse:
        """POST to the webhook route; `secret="default"` sends the right one, None none."""
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = self.settings.webhook_secret if secret == "default" else secret
        if raw is not None:
            return await self.client.post(self.settings.webhook_path, data=raw, headers=headers)
        return await self.client.post(self.settings.webhook_path, json=body, headers=headers)

    def take_pending(self) -> list[dict]:
        """The updates people made since last time, as Telegram would post them."""
        bot = self.emulator.default_bot
        updates, bot.pending[:] = list(bot.pending), []
        return updates

    async def deliver(self) -> None:
        """POST every pending update and wait until the bot has handled them."""
        for update in self.take_pending():
            response = await self.post(update)
            assert response.status == 200, await response.text()
        await get_workers(self.application).wait_idle()

    async def say(self, person: EmulatedUser, text: str) -> StoredMessage | None:
        if text.startswith("/"):
            command, _, payload = text.partition(" ")
            await person.send_command(command, payload or None)
        else:
            await person.send_text(text)
        await self.deliver()
        return person.last_message()

    async def tap(self, person: EmulatedUser, label: Any) -> StoredMessage | None:
        await person.tap(label)
        await self.deliver()
        return person.last_message()


@contextlib.asynccontextmanager
async def start_webhook_harness(database_url: str, **extra: Any) -> AsyncIterator[WebhookHarness]:
    """Tortoise must already be open in this task (the `db` fixture does it)."""
    async with BotApiEmulator() as emulator:
        settings = webhook_settings(database_url, emulator, **extra)
        application = build_application(settings, webhook=True)
        application.bot_data["flood_guard"] = FloodGuard(capacity=10_000)
        client = TestClient(TestServer(create_app(application, settings)))
        await client.start_server()
        try:
            await start_bot(application)
            yield WebhookHarness(emulator, settings, application, client)
        finally:
            await client.close()
            await stop_bot(application)
