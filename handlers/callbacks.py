"""Handlers for signed buttons (see `companion_bot.signing`). A signature proves the bot made
the button for her; handlers still check her role server-side before acting."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from telegram import Update

from companion_bot.signing import sign, signed_pattern, verify
from handlers.common import Context, answer_query, tr

__all__ = ["button", "signed", "signed_pattern"]


def button(update: Update, data: str) -> str:
    """Button data signed for the person this update comes from."""
    return sign(update.effective_user.id, data)


Handler = Callable[[Update, Context, list[str]], Awaitable[object]]


def signed(handler: Handler) -> Callable[[Update, Context], Awaitable[object]]:
    """Verify the tapped button's signature, then call `handler(update, context, parts)`
    with the data split on ':' (prefix included). A forged or foreign button is refused."""

    @functools.wraps(handler)
    async def wrapper(update: Update, context: Context) -> object:
        query = update.callback_query
        data = verify(update.effective_user.id, query.data if query else None)
        if data is None:
            _ = tr(update, context).gettext
            await answer_query(update, _("This button is no longer active."))
            return None
        return await handler(update, context, data.split(":"))

    return wrapper
