"""The bot with both channels, as in production: Telegram's emulator (long polling) and
WhatsApp's (posting signed webhooks to the bot's own web server over HTTP), one database.
Helpers act as people on WhatsApp and wait until the bot has answered."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp.test_utils import TestServer

from companion_bot import clock
from companion_bot.app import build_application
from companion_bot.emulator import BotApiEmulator
from companion_bot.settings import load_settings
from companion_bot.web import create_app
from companion_bot.whatsapp.render import parse_choice
from companion_bot.whatsapp_emulator import (
    CloudApiEmulator,
    EmulatedWhatsAppUser,
    SentMessage,
    approve_bot_templates,
)
from tests.support import ADMIN_ID, BotHarness, start_application, stop_application

VERIFY_TOKEN = "verify-token-for-tests"
WHATSAPP_NUMBER = "33700000000"  # the bot's number, for its wa.me links


@dataclass
class MixedHarness(BotHarness):
    meta: CloudApiEmulator | None = None

    def wa_user(self, name: str = "Zoé", wa_id: str | None = None) -> EmulatedWhatsAppUser:
        return self.meta.user(wa_id=wa_id, name=name)

    async def wa_say(self, person: EmulatedWhatsAppUser, text: str) -> str:
        """Send words; what the bot answered (every message of it, in one text)."""
        before = len(person.messages())
        post = await person.send_text(text)
        assert post.status == 200
        await self.settle()
        return said_since(person, before)

    async def wa_tap(self, person: EmulatedWhatsAppUser, action: str) -> str:
        """Tap the choice whose action (once verified) is `action`, or starts with it when it
        ends with "*", in the latest message that offers it; what the bot answered."""
        message, choice_id, title = offered(person, action)
        before = len(person.messages())
        post = await person.reply(choice_id, title, message)
        assert post.status == 200
        await self.settle()
        return said_since(person, before)

    async def wa_send(self, person: EmulatedWhatsAppUser, sending) -> str:
        """Anything else she sends (`sending`: an awaitable post, e.g. a location)."""
        before = len(person.messages())
        post = await sending
        assert post.status == 200
        await self.settle()
        return said_since(person, before)


def said_since(person: EmulatedWhatsAppUser, before: int) -> str:
    return "\n".join(message.text for message in person.messages()[before:])


def last(person: EmulatedWhatsAppUser) -> SentMessage | None:
    received = person.messages()
    return received[-1] if received else None


def actions(person: EmulatedWhatsAppUser, message: SentMessage | None = None) -> list[str]:
    """The actions of the choices in `message` (default: her latest), verified as hers."""
    message = message or last(person)
    return [parse_choice(person.wa_id, choice_id) or "?" for choice_id, _, _ in message.choices()]


def offered(person: EmulatedWhatsAppUser, action: str) -> tuple[SentMessage, str, str]:
    for message in reversed(person.messages()):
        for choice_id, title, _ in message.choices():
            found = parse_choice(person.wa_id, choice_id) or ""
            if found == action or (action.endswith("*") and found.startswith(action[:-1])):
                return message, choice_id, title
    raise LookupError(f"{person.name} was never offered {action!r}")


@contextlib.asynccontextmanager
async def start_mixed_harness(database_url: str) -> AsyncIterator[MixedHarness]:
    # Meta's clock is the bot's: travelling through the night closes windows as it would.
    async with BotApiEmulator() as emulator, CloudApiEmulator(clock=clock.now) as meta:
        approve_bot_templates(meta)
        settings = load_settings(
            TELEGRAM_BOT_TOKEN=emulator.token,
            TELEGRAM_API_URL=emulator.url,
            DATABASE_URL=database_url,
            COMPANION_ADMINS=str(ADMIN_ID),
            DEFAULT_LANGUAGE="fr",
            DEFAULT_TIMEZONE="Europe/Paris",
            TELEGRAM_RATE_LIMIT=0,
            TELEGRAM_CHAT_INTERVAL=0,
            **meta.bot_settings(VERIFY_TOKEN),
            WHATSAPP_NUMBER=WHATSAPP_NUMBER,
            _env_file=None,
        )
        application = build_application(settings)
        async with TestServer(create_app(application, settings)) as server:
            await meta.subscribe(str(server.make_url("/whatsapp")), VERIFY_TOKEN)
            await start_application(application)
            harness = MixedHarness(emulator, settings, application, meta=meta)
            try:
                yield harness
            finally:
                await stop_application(harness.application)
