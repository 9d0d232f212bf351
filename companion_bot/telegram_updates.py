"""Telegram's updates in and out of the inbox: whose each update is, long polling that
confirms an update only once it is stored, and the dispatcher that hands a stored update to
the handlers with her conversation state.

The dispatcher runs inside the inbox worker's transaction (`companion_bot.workers.inbox`):
it loads her state (`companion_bot.persistence`), lets python-telegram-bot route the update
to our handlers, and saves her state, all before the transaction commits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from telegram import Update
from telegram.error import NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application

from companion_bot import inbox, persistence
from companion_bot.inbox import Received, person_key
from companion_bot.metrics import update_metrics
from companion_bot.models import InboxUpdate
from companion_bot.workers.ratelimit import retry_after_seconds
from handlers.conversation import bind
from handlers.general import tell_update_failed

logger = logging.getLogger(__name__)

CHANNEL = "telegram"


def update_key(data: dict[str, Any]) -> str:
    """Whose update this is, read from its JSON: the person who acted (`from`, or `user` in
    poll answers and reactions), else the chat. A person's updates are handled in order."""
    for kind, value in data.items():
        if kind == "update_id" or not isinstance(value, dict):
            continue
        for actor in ("from", "user"):
            person = value.get(actor)
            if isinstance(person, dict) and type(person.get("id")) is int:
                return person_key(person["id"])
        chat = value.get("chat")
        if chat is None and isinstance(value.get("message"), dict):
            chat = value["message"].get("chat")
        if isinstance(chat, dict) and type(chat.get("id")) is int:
            return f"chat:{chat['id']}"
    return "none"


def received(data: dict[str, Any]) -> Received:
    return Received(update_id=data["update_id"], key=update_key(data), payload=data)


# -- handling a stored update ------------------------------------------------------------------


class TelegramDispatcher:
    """Hands stored updates to the application's handlers (see the module docstring)."""

    def __init__(self, application: Application) -> None:
        self.application = application
        self.metrics = update_metrics(application)

    async def handle(self, row: InboxUpdate) -> None:
        started = time.perf_counter()
        update = Update.de_json(row.payload, self.application.bot)
        user = update.effective_user
        if user is None:
            await self.application.process_update(update)
        else:
            stored = await persistence.load(user.id)
            before = persistence.snapshot(stored)
            # PTB's own per-user dict, which handlers see as `context.user_data`, is filled
            # from the database for this update only and dropped afterwards.
            user_data = self.application.user_data[user.id]
            user_data.clear()
            user_data.update(stored)
            try:
                with bind(user_data):
                    await self.application.process_update(update)
                await persistence.save(user.id, user_data, before)
            finally:
                self.application.drop_user_data(user.id)
        self.metrics.observe(update, time.perf_counter() - started)

    async def parked(self, row: InboxUpdate) -> None:
        """Her update could not be handled: tell her (in her chat), so she is not left
        waiting for an answer that will not come."""
        update = Update.de_json(row.payload or {"update_id": row.update_id}, self.application.bot)
        await tell_update_failed(update, self.application)


# -- long polling ------------------------------------------------------------------------------


async def poll(application: Application, stop: asyncio.Event, *, timeout: float = 10) -> None:  # noqa: ASYNC109 - the long poll's
    """Fetch updates until `stop` is set. Each batch is committed to the inbox before the
    next getUpdates call, which is what confirms it to Telegram: a crash in between only
    makes Telegram send the batch again, and storing it again changes nothing."""
    bot = application.bot
    offset: int | None = None
    failures = 0
    while not stop.is_set():
        try:
            batch = await bot.do_api_request(
                # Lower case: PTB would parse the answer into Update objects (and warn).
                "getupdates",
                api_kwargs={
                    "offset": offset,
                    "timeout": timeout,
                    "allowed_updates": list(Update.ALL_TYPES),
                },
                read_timeout=timeout + 10,
            )
            failures = 0
        except RetryAfter as error:
            await _sleep_unless(stop, retry_after_seconds(error))
            continue
        except (TimedOut, NetworkError, TelegramError) as error:
            failures += 1
            delay = min(30.0, 0.5 * 2 ** min(failures, 6))
            logger.warning("getUpdates failed (%s); trying again in %.0f s", error, delay)
            await _sleep_unless(stop, delay)
            continue
        updates = [item for item in batch or [] if _is_update(item)]
        if updates:
            await inbox.store_many(CHANNEL, [received(item) for item in updates])
            offset = max(item["update_id"] for item in updates) + 1


def _is_update(item: object) -> bool:
    return isinstance(item, dict) and type(item.get("update_id")) is int


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
