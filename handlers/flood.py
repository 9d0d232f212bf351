"""Slowing down one person who floods the bot, so it keeps serving everyone else.

Each person has a token bucket: a burst of `capacity` updates, refilled at `per_second`.
Past it, her updates are dropped before any journey sees them; she is told once, politely,
in her language. Nothing she had answered is lost: her conversation simply waits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from telegram import Update
from telegram.ext import ApplicationHandlerStop, TypeHandler

from handlers.common import Context, send, tr

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


async def guard(update: Update, context: Context) -> None:
    user = update.effective_user
    if user is None:
        return
    flood: FloodGuard = context.application.bot_data.setdefault("flood_guard", FloodGuard())
    allowed, warn_now = flood.allow(user.id)
    if len(flood.buckets) > 10_000:
        flood.forget_idle()
    if allowed:
        return
    if warn_now and update.effective_chat is not None and update.effective_chat.type == "private":
        _ = tr(update, context).gettext
        await send(
            update,
            context,
            _("You are sending a lot of messages at once. Give me a few seconds, then go on."),
        )
    raise ApplicationHandlerStop


def flood_handler() -> TypeHandler:
    return TypeHandler(Update, guard)
