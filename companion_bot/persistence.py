"""A person's conversation state in the database: where she is in each journey and her
pending answers (`UserData.data`, which handlers see as `context.user_data`).

Loaded when her update is handled and saved in the same transaction as the update's
effects (`companion_bot.telegram_updates`), so a crash never leaves a step half taken and any
process can serve her next update: there is no copy in memory between two updates.
"""

from __future__ import annotations

import copy
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from companion_bot import clock
from companion_bot.models import UserData
from companion_bot.prepared import Prepared

_HER_STATE = Prepared(
    UserData,
    lambda telegram_id: UserData.filter(telegram_id=telegram_id).limit(1),
    telegram_id=int,
)


async def load(telegram_id: int) -> dict[str, Any]:
    """Her stored state (an empty dict for someone new)."""
    row = await _HER_STATE.first(telegram_id=telegram_id)
    return dict(row.data or {}) if row is not None else {}


def snapshot(data: dict[str, Any]) -> dict[str, Any]:
    """A copy to compare with after the update: most updates change nothing."""
    return copy.deepcopy(data)


async def save(telegram_id: int, data: dict[str, Any], before: dict[str, Any]) -> None:
    """Store her state if the update changed it: one UPDATE in the usual case, not
    update_or_create's locking read and write."""
    if data == before:
        return
    if not data:
        await UserData.filter(telegram_id=telegram_id).delete()
        return
    values = {"data": data, "updated_at": clock.now()}
    if await UserData.filter(telegram_id=telegram_id).update(**values):
        return
    try:
        async with in_transaction():  # a savepoint: a duplicate must not abort the update's
            await UserData.create(telegram_id=telegram_id, **values)
    except IntegrityError:  # created meanwhile by another process
        await UserData.filter(telegram_id=telegram_id).update(**values)


async def forget(telegram_id: int) -> None:
    await UserData.filter(telegram_id=telegram_id).delete()
