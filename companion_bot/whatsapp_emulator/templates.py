"""The bot's utility templates (companion_bot/whatsapp/templates.py) approved in the emulator,
as the organizers would have had them approved by Meta: for manual runs, tests and the demo."""

from __future__ import annotations

from typing import TYPE_CHECKING

from companion_bot.whatsapp.templates import TEMPLATES

if TYPE_CHECKING:
    from .server import CloudApiEmulator


def approve_bot_templates(emulator: CloudApiEmulator) -> None:
    """Every utility template, under its default name, in fr, en and nl."""
    for template in TEMPLATES.values():
        for language, text in template.texts.items():
            emulator.add_template(template.purpose.value, language, text)
