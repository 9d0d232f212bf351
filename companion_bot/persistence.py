"""A person's conversation state in the database: where she is in each journey and her
pending answers (`UserData.data`, which handlers see as `context.user_data`).

Loaded when her update is handled and saved in the same transaction as the update's
effects (`companion_bot.telegram_updates`), so a crash never leaves a step half taken and any
process can serve her next update: there is no copy in memory between two updates.
"""

from __future__ import annotations

import copy
from typing import Any

from companion_bot import clock
from companion_bot.models import UserData
from companion_bot.prepared import Prepared, Statement

_HER_STATE = Prepared(
    UserData,
    lambda telegram_id: UserData.filter(telegram_id=telegram_id).limit(1),
    telegram_id=int,
)


# Her state, whether she has a row yet or not: one statement (no savepoint for a first one).
_WRITE = Statement(
    UserData,
    'INSERT INTO "user_data" ("telegram_id", "data", "updated_at")'
    " VALUES (:telegram_id, :data, :now)"
    ' ON CONFLICT ("telegram_id")'
    ' DO UPDATE SET "data" = excluded."data", "updated_at" = excluded."updated_at"',
)
_DATA = UserData._meta.fields_map["data"]


async def load(telegram_id: int) -> dict[str, Any]:
    """Her stored state (an empty dict for someone new)."""
    row = await _HER_STATE.first(telegram_id=telegram_id)
    return dict(row.data or {}) if row is not None else {}


def snapshot(data: dict[str, Any]) -> dict[str, Any]:
    """A copy to compare with after the update: most updates change nothing."""
    return copy.deepcopy(data)


async def save(telegram_id: int, data: dict[str, Any], before: dict[str, Any]) -> None:
    """Store her state if the update changed it (most updates change nothing)."""
    if data == before:
        return
    if not data:
        await UserData.filter(telegram_id=telegram_id).delete()
        return
    await _WRITE.execute(
        telegram_id=telegram_id, data=_DATA.to_db_value(data, UserData), now=clock.now()
    )


async def forget(telegram_id: int) -> None:
    await UserData.filter(telegram_id=telegram_id).delete()
