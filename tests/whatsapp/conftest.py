"""The WhatsApp emulator, started on a real port, with the bot's templates approved."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from companion_bot.whatsapp.templates import TEMPLATES
from companion_bot.whatsapp_emulator import CloudApiEmulator

SECRET = b"s" * 32  # signs buttons in these tests


def approve_templates(meta: CloudApiEmulator) -> None:
    """Every utility template, under its default name, in fr, en and nl."""
    for template in TEMPLATES.values():
        for language, text in template.texts.items():
            meta.add_template(template.purpose.value, language, text)


@pytest_asyncio.fixture
async def meta() -> AsyncIterator[CloudApiEmulator]:
    async with CloudApiEmulator() as emulator:
        approve_templates(emulator)
        yield emulator
