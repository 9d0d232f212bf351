"""Timed actions (reminders, escalations, matching rounds) stored as schedule entries.

`schedule` writes a row; the scheduler runner (`companion_bot.workers`) runs the handler
registered for its kind when it is due, in whichever bot process claims it first. A crash
or a redeploy loses nothing: a task that was running when its process died runs again, so
handlers must be safe to run twice (check what was already done, use outbox dedupe keys).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from companion_bot.models import ScheduledTask, TaskStatus
from companion_bot.wakeups import Signal

logger = logging.getLogger(__name__)

# Says a task was scheduled or moved (the scheduler runner listens).
NEW_WORK = Signal()

KIND_MAX_LENGTH = 32  # ScheduledTask.kind
DEDUPE_KEY_MAX_LENGTH = 128

TaskHandler = Callable[[dict[str, Any], datetime], Awaitable[None]]
_handlers: dict[str, TaskHandler] = {}


def register(kind: str, handler: TaskHandler) -> None:
    """Run `await handler(payload, now)` for every due task of this kind.

    An exception makes the task retry later (with backoff), then fail; registering a kind
    again replaces its handler.
    """
    if not 0 < len(kind) <= KIND_MAX_LENGTH:
        raise ValueError(f"kind must be 1 to {KIND_MAX_LENGTH} characters")
    _handlers[kind] = handler


def handler_for(kind: str) -> TaskHandler | None:
    return _handlers.get(kind)


def registered_kinds() -> frozenset[str]:
    """Every kind of task a handler is registered for."""
    return frozenset(_handlers)


async def schedule(
    kind: str,
    due_at: datetime,
    payload: dict[str, Any] | None = None,
    *,
    dedupe_key: str | None = None,
) -> ScheduledTask:
    """Ask for `kind` to run at `due_at` (aware datetime) with `payload` (JSON).

    A `dedupe_key` names one schedule: scheduling the same key again moves that task to the
    new time and payload instead of adding one. If it already ran (done, failed, cancelled)
    or is running right now, it is armed again and runs once more at `due_at`.
    """
    if not 0 < len(kind) <= KIND_MAX_LENGTH:
        raise ValueError(f"kind must be 1 to {KIND_MAX_LENGTH} characters")
    if due_at.tzinfo is None:
        raise ValueError("due_at must be an aware datetime (UTC)")
    if dedupe_key is not None and not 0 < len(dedupe_key) <= DEDUPE_KEY_MAX_LENGTH:
        raise ValueError(f"dedupe_key must be 1 to {DEDUPE_KEY_MAX_LENGTH} characters")
    fields: dict[str, Any] = {"kind": kind, "due_at": due_at, "payload": dict(payload or {})}
    if dedupe_key is None:
        task = await ScheduledTask.create(**fields)
        NEW_WORK.notify()
        return task
    # Two attempts: an insert that loses a race to the same key updates the winner's row.
    for _ in range(2):
        existing = await ScheduledTask.get_or_none(dedupe_key=dedupe_key)
        if existing is not None:
            # Clearing the claim also tells a runner running it now not to mark it done.
            await ScheduledTask.filter(id=existing.id).update(
                **fields,
                status=TaskStatus.PENDING,
                attempts=0,
                last_error=None,
                done_at=None,
                claimed_by=None,
                claimed_at=None,
            )
            await existing.refresh_from_db()
            NEW_WORK.notify()
            return existing
        try:
            async with in_transaction():  # a savepoint when the caller is in a transaction
                task = await ScheduledTask.create(**fields, dedupe_key=dedupe_key)
        except IntegrityError:
            continue
        NEW_WORK.notify()
        return task
    raise RuntimeError(f"could not schedule {dedupe_key!r}")  # pragma: no cover


async def pending(dedupe_key: str) -> ScheduledTask | None:
    """The task of this key if it is waiting to run (not running, done or cancelled)."""
    return await ScheduledTask.get_or_none(dedupe_key=dedupe_key, status=TaskStatus.PENDING)


async def move(dedupe_key: str, due_at: datetime) -> bool:
    """Move the waiting task of this key to `due_at`; returns False, changing nothing, when
    none is waiting (unlike `schedule`, a task that already ran is not armed again)."""
    if due_at.tzinfo is None:
        raise ValueError("due_at must be an aware datetime (UTC)")
    changed = await ScheduledTask.filter(dedupe_key=dedupe_key, status=TaskStatus.PENDING).update(
        due_at=due_at
    )
    if changed:
        NEW_WORK.notify()
    return bool(changed)


async def cancel(dedupe_key: str) -> bool:
    """Cancel the waiting task of this key; returns False if none was waiting."""
    changed = await ScheduledTask.filter(dedupe_key=dedupe_key, status=TaskStatus.PENDING).update(
        status=TaskStatus.CANCELLED
    )
    return bool(changed)


async def cancel_prefix(prefix: str) -> int:
    """Cancel every waiting task whose key starts with `prefix` (e.g. "wave:12:")."""
    if not prefix:
        raise ValueError("an empty prefix would cancel every task")
    return await ScheduledTask.filter(
        dedupe_key__startswith=prefix, status=TaskStatus.PENDING
    ).update(status=TaskStatus.CANCELLED)
