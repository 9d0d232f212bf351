"""Buttons in Telegram: their data is an action (companion_bot/actions.py), signed for the
person it is sent to when it names an event, a group or a person (companion_bot/signing.py).
A signature proves the bot made the button for her; handlers still check her role
server-side before acting. Handlers receive the typed action, never the raw data."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update

from companion_bot import actions
from companion_bot.actions import Action
from companion_bot.signing import data_of, sign, verify
from handlers.common import Context, answer_query, tr

__all__ = ["button", "pattern", "signed", "signed_pattern", "tapped", "unsigned"]

Handler = Callable[[Update, Context, Any], Awaitable[Any]]


def button(update: Update, action: Action) -> str:
    """The action's data signed for the person this update comes from."""
    return sign(update.effective_user.id, action.encode())


def pattern(*kinds: type[Action]) -> re.Pattern[str]:
    """Routes the unsigned data of these kinds of action to a handler."""
    return _union([actions.pattern(kind) for kind in kinds])


def signed_pattern(*kinds: type[Action]) -> re.Pattern[str]:
    """Routes signed data of these kinds of action to a handler."""
    return _union([actions.pattern(kind, signed=True) for kind in kinds])


def _union(patterns: list[re.Pattern[str]]) -> re.Pattern[str]:
    if len(patterns) == 1:
        return patterns[0]
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns))


def tapped(update: Update) -> Action | None:
    """The action of the button she tapped, signed or not, without checking a signature
    (for sorting updates; handlers get theirs checked through `signed`)."""
    query = update.callback_query
    data = query.data if query is not None else None
    return actions.decode(data_of(data) if isinstance(data, str) else None)


def signed(*kinds: type[Action]) -> Callable[[Handler], Callable[[Update, Context], Awaitable]]:
    """Verify the tapped button's signature, then call `handler(update, context, action)`
    with its action, one of `kinds`. A forged, foreign or stale button is refused."""
    return functools.partial(_tapped, _kinds(kinds), True)


def unsigned(*kinds: type[Action]) -> Callable[[Handler], Callable[[Update, Context], Awaitable]]:
    """Call `handler(update, context, action)` with the action of the tapped button (data
    that is no action of `kinds` is refused)."""
    return functools.partial(_tapped, _kinds(kinds), False)


def _kinds(kinds: tuple[type[Action], ...]) -> tuple[type[Action], ...]:
    if not kinds or not all(isinstance(k, type) and issubclass(k, Action) for k in kinds):
        raise TypeError(f"a button handler names the kinds of action it takes, not {kinds!r}")
    return kinds


def _tapped(
    kinds: tuple[type[Action], ...], check_signature: bool, handler: Handler
) -> Callable[[Update, Context], Awaitable]:
    @functools.wraps(handler)
    async def wrapper(update: Update, context: Context) -> object:
        query = update.callback_query
        data = query.data if query else None
        if check_signature:
            data = verify(update.effective_user.id, data)
        action = actions.decode(data)
        if not isinstance(action, kinds):
            _ = tr(update, context).gettext
            await answer_query(update, _("This button is no longer active."))
            return None
        return await handler(update, context, action)

    return wrapper
