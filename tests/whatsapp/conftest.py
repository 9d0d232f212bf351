"""The WhatsApp emulator, started on a real port, with the bot's templates approved."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from companion_bot.whatsapp_emulator import CloudApiEmulator, approve_bot_templates

SECRET = b"s" * 32  # signs buttons in these tests


@pytest_asyncio.fixture
async def meta() -> AsyncIterator[CloudApiEmulator]:
    async with CloudApiEmulator() as emulator:
        approve_bot_templates(emulator)
        yield emulator
