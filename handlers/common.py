"""What every journey shares: the person's language, settings, keyboards and safe replies."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from companion_bot.i18n import (
    LANGUAGES,
    N_,
    N_plural,
    Translator,
    escape,
    pick_language,
    translator,
)
from companion_bot.settings import Settings

Context = ContextTypes.DEFAULT_TYPE
Button = tuple[str, str]  # (label, callback data)

LANGUAGE_KEY = "lang"


def settings_of(context: Context) -> Settings:
    return context.application.bot_data["settings"]


def tr(update: Update, context: Context) -> Translator:
    """Her saved choice, then her Telegram language, then the bot's default."""
    saved = context.user_data.get(LANGUAGE_KEY) if context.user_data is not None else None
    user = update.effective_user
    return translator(
        pick_language(
            saved, user.language_code if user else None, settings_of(context).DEFAULT_LANGUAGE
        )
    )


def remember_language(context: Context, language: str | None) -> None:
    if language and context.user_data is not None:
        context.user_data[LANGUAGE_KEY] = language


esc = escape  # short: it wraps every user-provided value in message templates

# How many signed up (/myevents, /dashboard).
SIGNED_UP = N_plural("{count} signed up", "{count} signed up")

SEVERAL_LANGUAGES = N_(
    "Several languages? Write each version after “|” and its language code ({codes}), "
    "like: {example}"
)


def in_several_languages(gettext, example: str) -> str:
    """The hint under an organizer's question whose answer attendees read: how to write it
    in several languages (services/texts.py). `example`: an N_() text, translated here."""
    return gettext(SEVERAL_LANGUAGES).format(
        codes=", ".join(LANGUAGES), example=esc(gettext(example))
    )


def keyboard(rows: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def column(buttons: Sequence[Button]) -> InlineKeyboardMarkup:
    return keyboard([[button] for button in buttons])


async def send(update: Update, context: Context, text: str, markup=None) -> Message:
    """A new message in her chat (also after a button tap, where there is no message to reply)."""
    return await context.bot.send_message(
        chat_id=update.effective_chat.id, text=text, reply_markup=markup
    )


async def close_buttons(update: Update, note: str | None = None) -> None:
    """After a tap: remove the tapped message's buttons and say what she chose."""
    query = update.callback_query
    if query is None or query.message is None or not query.message.is_accessible:
        return
    try:
        if note:
            text = query.message.text_html or ""
            await query.edit_message_text(f"{text}\n\n<b>→ {esc(note)}</b>", reply_markup=None)
        else:
            await query.edit_message_reply_markup(reply_markup=None)
    except BadRequest:
        # Already edited (a double tap) or too old to edit: nothing to tidy.
        pass


async def answer_query(update: Update, text: str | None = None, alert: bool = False) -> None:
    if update.callback_query is None:
        return
    try:
        await update.callback_query.answer(text=text, show_alert=alert)
    except BadRequest:
        # Queries older than a few minutes can no longer be answered.
        pass


def in_private_chat(update: Update) -> bool:
    return update.effective_chat is not None and update.effective_chat.type == "private"
