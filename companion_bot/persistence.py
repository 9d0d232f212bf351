"""Conversation state and per-user data kept in the database.

PTB only hands changes to a persistence object when `Application.update_persistence` runs
(every `update_interval`). `PerUserUpdateProcessor` calls it after every update, so each
step is written through and a crash loses nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BasePersistence, BaseUpdateProcessor, PersistenceInput
from telegram.ext._utils.types import ConversationDict, ConversationKey
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from companion_bot import clock
from companion_bot.models import ConversationState, UserData

logger = logging.getLogger(__name__)


def _fingerprint(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, default=str)


def _encode_key(key: ConversationKey) -> str:
    return json.dumps(list(key), separators=(",", ":"))


def _decode_key(text: str) -> ConversationKey:
    return tuple(json.loads(text))


async def _upsert(model: type[Model], keys: dict[str, Any], values: dict[str, Any]) -> None:
    """One UPDATE in the usual case (she already has a row), after every update of hers: not
    update_or_create's transaction, locking read and write."""
    values = values | {"updated_at": clock.now()}
    if await model.filter(**keys).update(**values):
        return
    try:
        await model.create(**keys, **values)
    except IntegrityError:  # created meanwhile by another process
        await model.filter(**keys).update(**values)


class DatabasePersistence(BasePersistence[dict[str, Any], dict, dict]):
    """Stores conversation states and user_data; chat, bot and callback data are not kept."""

    def __init__(self) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=True, callback_data=False
            ),
            update_interval=60,
        )
        # What was last written per person: PTB hands over her user_data after every update,
        # changed or not, and most updates change nothing.
        self._written: dict[int, str] = {}

    async def get_user_data(self) -> dict[int, dict[str, Any]]:
        rows = await UserData.all()
        self._written = {row.telegram_id: _fingerprint(row.data or {}) for row in rows}
        return {row.telegram_id: dict(row.data or {}) for row in rows}

    async def update_user_data(self, user_id: int, data: dict[str, Any]) -> None:
        fingerprint = _fingerprint(data)
        if self._written.get(user_id) == fingerprint:
            return
        await _upsert(UserData, {"telegram_id": user_id}, {"data": data})
        self._written[user_id] = fingerprint

    async def drop_user_data(self, user_id: int) -> None:
        self._written.pop(user_id, None)
        await UserData.filter(telegram_id=user_id).delete()

    async def refresh_user_data(self, user_id: int, user_data: dict[str, Any]) -> None:
        return None

    async def get_conversations(self, name: str) -> ConversationDict:
        rows = await ConversationState.filter(conversation=name)
        return {_decode_key(row.key): row.state["value"] for row in rows}

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        encoded = _encode_key(key)
        if new_state is None:
            await ConversationState.filter(conversation=name, key=encoded).delete()
            return
        await _upsert(ConversationState, {"conversation": name, "key": encoded},
                      {"state": {"value": new_state}})  # fmt: skip

    # Nothing else is stored: the methods exist because BasePersistence requires them.
    async def get_chat_data(self) -> dict[int, dict]:
        return {}

    async def update_chat_data(self, chat_id: int, data: dict) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: dict) -> None:
        return None

    async def get_bot_data(self) -> dict:
        return {}

    async def update_bot_data(self, data: dict) -> None:
        return None

    async def refresh_bot_data(self, bot_data: dict) -> None:
        return None

    async def get_callback_data(self) -> None:
        return None

    async def update_callback_data(self, data: Any) -> None:
        return None

    async def flush(self) -> None:
        return None


def serial_key(update: object) -> int | None:
    """Updates of one person (or one chat) are handled one after the other."""
    if isinstance(update, Update):
        if update.effective_user is not None:
            return update.effective_user.id
        if update.effective_chat is not None:
            return update.effective_chat.id
    return None


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Serve people in parallel while keeping each person's updates in order.

    After each update, `after_update` (the application's persistence flush) runs inside the
    person's turn, so her next update sees what the previous one stored. `on_handled` then
    gets the update and the seconds its handlers and that write took (for /metrics); the
    wait for her previous update is not counted.
    """

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._holders: defaultdict[int, int] = defaultdict(int)
        self.after_update: Callable[[], Awaitable[None]] | None = None
        self.on_handled: Callable[[object, float], None] | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = serial_key(update)
        if key is None:
            started = time.perf_counter()
            await coroutine
            await self._after()
            self._report(update, started)
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._holders[key] += 1
        try:
            async with lock:
                started = time.perf_counter()
                await coroutine
                await self._after()
                self._report(update, started)
        finally:
            self._holders[key] -= 1
            if self._holders[key] == 0:
                del self._holders[key]
                del self._locks[key]

    async def _after(self) -> None:
        if self.after_update is None:
            return
        try:
            await self.after_update()
        except Exception:
            logger.exception("Could not write conversation state to the database")

    def _report(self, update: object, started: float) -> None:
        if self.on_handled is not None:
            self.on_handled(update, time.perf_counter() - started)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
