"""Slowing down one person who floods the bot, so it keeps serving everyone else.

Each person has a token bucket: a burst of `capacity` updates, refilled at `per_second`.
Past it, her updates are dropped before any journey sees them; she is told once, politely,
in her language, and a dropped button tap is answered so it does not spin. Nothing she had
answered is lost: her conversation simply waits. Asking for help is never dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from telegram import Update
from telegram.ext import ApplicationHandlerStop, TypeHandler

from companion_bot import actions
from companion_bot.i18n import N_, translations_of
from handlers.callbacks import tapped
from handlers.common import Context, answer_query, in_private_chat, send, tr
from handlers.help import HELP_BUTTON

FLOOD_GROUP = -10  # runs before every journey (group 0)


@dataclass
class Bucket:
    tokens: float
    updated: float
    warned: bool = False


@dataclass
class FloodGuard:
    capacity: float = 20.0
    per_second: float = 1.0
    clock: object = time.monotonic
    buckets: dict[int, Bucket] = field(default_factory=dict)

    def allow(self, person_id: int) -> tuple[bool, bool]:
        """(allowed, warn_now): warn_now is True the first time she is slowed down."""
        now = self.clock()
        bucket = self.buckets.get(person_id)
        if bucket is None:
            bucket = self.buckets[person_id] = Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.per_second)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.warned = False
            return True, False
        warn_now = not bucket.warned
        bucket.warned = True
        return False, warn_now

    def forget_idle(self) -> None:
        """Full buckets carry no information: drop them so memory stays small."""
        now = self.clock()
        for person_id in [
            pid
            for pid, b in self.buckets.items()
            if b.tokens + (now - b.updated) * self.per_second >= self.capacity
        ]:
            del self.buckets[person_id]


SLOW_DOWN = N_("You are sending a lot of messages at once. Give me a few seconds, then go on.")
# Help is never dropped: /help, the "I need help" button, and the buttons of an alert.
HELP_COMMAND = "/help"
HELP_BUTTONS = (
    actions.HelpLevelPick,
    actions.HelpCancel,
    actions.HelpAnswer,
    actions.VolunteerHelp,
)


def asks_for_help(update: Update) -> bool:
    query = update.callback_query
    if query is not None:
        return isinstance(tapped(update), HELP_BUTTONS)
    message = update.message
    if message is None or message.text is None:
        return False
    first = message.text.split(maxsplit=1)[0] if message.text.strip() else ""
    return first.split("@", 1)[0] == HELP_COMMAND or message.text in translations_of(HELP_BUTTON)


async def guard(update: Update, context: Context) -> None:
    user = update.effective_user
    if user is None:
        return
    flood: FloodGuard = context.application.bot_data.setdefault("flood_guard", FloodGuard())
    allowed, warn_now = flood.allow(user.id)
    if len(flood.buckets) > 10_000:
        flood.forget_idle()
    if allowed or asks_for_help(update):
        return
    _ = tr(update, context).gettext
    if update.callback_query is not None:
        # A tap left unanswered keeps the button spinning: answer it, say why.
        await answer_query(update, _(SLOW_DOWN))
    elif warn_now and in_private_chat(update):
        await send(update, context, _(SLOW_DOWN))
    raise ApplicationHandlerStop


def flood_handler() -> TypeHandler:
    return TypeHandler(Update, guard)
