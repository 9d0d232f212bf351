"""What every journey shares: the person's language, settings, keyboards and replies.

Replies are not Bot API calls: `send` and `close_buttons` queue them in the outbox, in the
transaction of the update being handled (companion_bot/workers/inbox.py), so they go out
once it commits, exactly once, retried by the outbox worker when Telegram hiccups. Only the
answer to a button tap (`answer_query`) is a direct call, made after the commit: it merely
stops the button's spinner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from companion_bot import notices
from companion_bot.i18n import (
    LANGUAGES,
    N_,
    N_plural,
    Translator,
    escape,
    pick_language,
    translator,
)
from companion_bot.models import OutboxMessage
from companion_bot.services import outbox
from companion_bot.settings import Settings
from companion_bot.workers.inbox import current_scope

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


async def send(
    update: Update,
    context: Context,
    text: str,
    markup=None,
    *,
    purpose: str | None = None,
    **payload: Any,
) -> OutboxMessage:
    """A new message in her chat (also after a button tap, where there is no message to
    reply), queued with the update's effects; `payload`: other sendMessage arguments,
    `purpose`: what the outbox does once it is sent (`outbox.register_after_send`)."""
    return await reply(update.effective_chat.id, text, markup, purpose=purpose, **payload)


def with_markup(payload: dict[str, Any], markup) -> dict[str, Any]:
    """A notice's fields with this handler's keyboard (a PTB markup or its JSON), which the
    Telegram sender sends as it is (companion_bot/notices.py: `markup`)."""
    if markup is None:
        return payload
    return payload | {"markup": markup.to_dict() if hasattr(markup, "to_dict") else markup}


async def reply(
    chat_id: int, text: str, markup=None, *, purpose: str | None = None, **payload: Any
) -> OutboxMessage:
    """A message to `chat_id` in answer to what someone just did (see the module docstring)."""
    row = await outbox.enqueue(
        chat_id,
        text,
        payload=with_markup(payload, markup) or None,
        priority=outbox.REPLY_PRIORITY,
        purpose=purpose,
        answering=True,
    )
    assert row is not None  # no dedupe key: always queued
    return row


async def edit_message(
    chat_id: int,
    message_id: int,
    text: str | None = None,
    markup=None,
    *,
    purpose: str | None = None,
) -> OutboxMessage:
    """Change a message of her chat known by its Telegram id (the one she tapped): its text
    (and buttons), or only its buttons (None removes them). Queued like a reply, so it goes
    after what was queued before. (`outbox.edit` changes what an outbox row became.)"""
    row = await outbox.enqueue(
        chat_id,
        text,
        kind=notices.EDIT_CHOICES if text is None else notices.EDIT_TEXT,
        payload=with_markup({"message_id": message_id}, markup),
        priority=outbox.REPLY_PRIORITY,
        purpose=purpose,
        answering=True,  # she just tapped it: she has not blocked the bot
    )
    assert row is not None
    return row


async def close_buttons(
    update: Update, note: str | None = None, *, purpose: str | None = None
) -> None:
    """After a tap: remove the tapped message's buttons and say what she chose."""
    query = update.callback_query
    if query is None or query.message is None or not query.message.is_accessible:
        return
    message = query.message
    if note:
        text = f"{message.text_html or ''}\n\n<b>→ {esc(note)}</b>"
        await edit_message(message.chat.id, message.message_id, text, purpose=purpose)
    elif message.reply_markup is not None:
        await edit_message(message.chat.id, message.message_id, purpose=purpose)


async def answer_query(update: Update, text: str | None = None, alert: bool = False) -> None:
    """Stop the tapped button's spinner (with a note or an alert): after the update's
    transaction commits, so that a tap whose handling is undone is answered by its retry."""
    query = update.callback_query
    if query is None:
        return

    async def answer() -> None:
        try:
            await query.answer(text=text, show_alert=alert)
        except BadRequest:
            pass  # queries older than a few minutes can no longer be answered

    scope = current_scope()
    if scope is None:
        await answer()
    elif ("answer", query.id) not in scope.queued:  # a tap gets one answer: the first
        scope.queued.add(("answer", query.id))
        scope.after_commit.append(answer)


def in_private_chat(update: Update) -> bool:
    return update.effective_chat is not None and update.effective_chat.type == "private"
