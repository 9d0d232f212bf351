"""What every notification needs: the recipient's language and buttons signed for her."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from companion_bot.i18n import Translator, translator
from companion_bot.models import Person
from companion_bot.signing import sign


def language_of(person: Person) -> Translator:
    return translator(person.language or "fr")


def signed_markup(person: Person, rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Inline buttons whose data only `person` can send back (see companion_bot.signing)."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=sign(person.telegram_id, data))
             for label, data in row]
            for row in rows
        ]
    )  # fmt: skip
