"""Outgoing notifications, stored before they are sent.

Handlers and services never call the Bot API for a notification: they `enqueue` it (or
`enqueue_many` for a broadcast), which writes a row in the caller's transaction and returns
at once. The outbox worker (`companion_bot.workers`) sends the rows, paced to Telegram's
limits, retried on flood waits and network errors. So a crash or a redeploy loses no
notification, and a step retried after a crash does not queue one twice (`dedupe_key`).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telegram import Message
from tortoise.exceptions import IntegrityError
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from companion_bot import clock
from companion_bot.models import OutboxMessage, OutboxStatus, Person

logger = logging.getLogger(__name__)

# Outbox rows carry the rendered call, so the bot's Defaults (applied by PTB to its typed
# methods only) are written into the payload: HTML, like every message of this bot.
DEFAULT_PARSE_MODE = "HTML"
NO_LINK_PREVIEW = {"is_disabled": True}
# Done with, one way or another: what `purge` may delete.
FINISHED = (
    OutboxStatus.SENT,
    OutboxStatus.FAILED,
    OutboxStatus.BLOCKED,
    OutboxStatus.CANCELLED,
)
BLOCKED_ERROR = "not sent: she blocked the bot"
# Answers to what someone just did (her next question, a confirmation): she is waiting for
# them. After help alerts (services/help.py), before reminders and broadcasts.
REPLY_PRIORITY = 15
ATTACHMENT = "attachment"  # the key naming a file in a payload value (see `attachment`)
PURPOSE_MAX_LENGTH = 32  # OutboxMessage.purpose
_CHUNK = 500  # ids per IN (...) list: well below SQLite's and PostgreSQL's parameter limits

AfterSendHook = Callable[[OutboxMessage, Message | None], Awaitable[None]]
_after_send: dict[str, AfterSendHook] = {}
_listeners: list[Callable[[], None]] = []


@dataclass(frozen=True)
class Outgoing:
    """One message for `enqueue_many`; the fields mean what `enqueue`'s arguments mean."""

    chat_id: int
    text: str | None = None
    method: str = "sendMessage"
    payload: dict[str, Any] | None = None
    reply_markup: Any = None
    priority: int = 0
    not_before: datetime | None = None
    dedupe_key: str | None = None
    broadcast_id: int | None = None
    purpose: str | None = None
    reference: Any = None


@dataclass(frozen=True)
class Report:
    """Where the messages of a broadcast are; `pending` counts those being sent too."""

    sent: int = 0
    blocked: int = 0
    failed: int = 0
    pending: int = 0
    cancelled: int = 0
    by_status: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    @property
    def total(self) -> int:
        return self.sent + self.blocked + self.failed + self.pending + self.cancelled

    @property
    def finished(self) -> bool:
        return self.pending == 0


# -- queueing --------------------------------------------------------------------------------


async def enqueue(
    chat_id: int,
    text: str | None = None,
    *,
    method: str = "sendMessage",
    payload: dict[str, Any] | None = None,
    reply_markup: Any = None,
    priority: int = 0,
    not_before: datetime | None = None,
    dedupe_key: str | None = None,
    broadcast_id: int | None = None,
    purpose: str | None = None,
    reference: Any = None,
) -> OutboxMessage | None:
    """Queue one Bot API call to `chat_id`; no Telegram call happens here.

    `payload` holds the method's other JSON arguments; `text` and `reply_markup` (a PTB
    markup or its dict) are merged into it, and text gets parse_mode HTML unless the payload
    says otherwise. Higher `priority` goes first; within a priority and a chat, messages go
    in the order they were queued. `not_before` delays the message. A `dedupe_key` already
    used makes this a no-op returning None. To someone who blocked the bot, the row is
    stored as BLOCKED and never sent. `purpose` names an after-send hook
    (`register_after_send`), which gets the row (with its `reference`) and the sent message.
    Works inside the caller's transaction (a duplicate key only rolls back a savepoint).
    """
    item = Outgoing(
        chat_id, text, method, payload, reply_markup, priority, not_before, dedupe_key,
        broadcast_id, purpose, reference,
    )  # fmt: skip
    fields = _row_fields(item, _utcnow())
    if await _is_blocked(chat_id):
        fields |= {"status": OutboxStatus.BLOCKED, "error": BLOCKED_ERROR}
    if dedupe_key is None:
        row = await OutboxMessage.create(**fields)
    else:
        if await OutboxMessage.exists(dedupe_key=dedupe_key):
            return None
        try:
            async with in_transaction():  # a savepoint when the caller is in a transaction
                row = await OutboxMessage.create(**fields)
        except IntegrityError:
            if await OutboxMessage.exists(dedupe_key=dedupe_key):
                return None  # queued by someone else meanwhile
            raise
    if row.status == OutboxStatus.PENDING:
        _notify()
    return row


async def enqueue_many(messages: Iterable[Outgoing]) -> int:
    """Queue many messages at once (a broadcast); returns how many were queued.

    One bulk insert per 500 rows; messages whose `dedupe_key` is already used (or repeated
    in `messages`) are skipped, so re-running an interrupted broadcast queues only the rest.
    """
    now = _utcnow()
    items = list(messages)
    keys = [item.dedupe_key for item in items if item.dedupe_key is not None]
    used: set[str] = set()
    for chunk in _chunks(sorted(set(keys))):
        used.update(
            await OutboxMessage.filter(dedupe_key__in=chunk).values_list("dedupe_key", flat=True)
        )
    blocked = await _blocked_among({item.chat_id for item in items})
    rows = []
    for item in items:
        if item.dedupe_key is not None:
            if item.dedupe_key in used:
                continue
            used.add(item.dedupe_key)
        fields = _row_fields(item, now)
        if item.chat_id in blocked:
            fields |= {"status": OutboxStatus.BLOCKED, "error": BLOCKED_ERROR}
        rows.append(OutboxMessage(**fields))
    if rows:
        # ignore_conflicts: a key queued concurrently by someone else is skipped, not an error.
        await OutboxMessage.bulk_create(rows, batch_size=_CHUNK, ignore_conflicts=bool(keys))
        _notify()
    return len(rows)


async def cancel(target: str | Iterable[int]) -> int:
    """Cancel messages not sent yet: by dedupe-key prefix (a str) or by ids.

    Only waiting (PENDING) rows are cancelled; one being sent right now goes out.
    Returns how many were cancelled.
    """
    query = OutboxMessage.filter(status=OutboxStatus.PENDING)
    if isinstance(target, str):
        if not target:
            raise ValueError("an empty prefix would cancel every message")
        return await query.filter(dedupe_key__startswith=target).update(
            status=OutboxStatus.CANCELLED
        )
    cancelled = 0
    for chunk in _chunks(sorted(set(target))):
        cancelled += await query.filter(id__in=chunk).update(status=OutboxStatus.CANCELLED)
    return cancelled


def attachment(content: bytes, filename: str) -> dict[str, str]:
    """A file to upload with the call (a QR code, an export), stored in its JSON row: the
    worker uploads it as the named file. For small files only."""
    return {ATTACHMENT: filename, "base64": base64.b64encode(content).decode("ascii")}


async def sent_message_id(row_id: int, chat_id: int) -> int | None:
    """The message an outbox row became in `chat_id`, once sent."""
    found = await OutboxMessage.filter(id=row_id, chat_id=chat_id).values_list(
        "telegram_message_id", flat=True
    )
    return found[0] if found else None


async def delivery_report(broadcast_id: int) -> Report:
    rows = (
        await OutboxMessage.filter(broadcast_id=broadcast_id)
        .annotate(count=Count("id"))
        .group_by("status")
        .values("status", "count")
    )
    counts = {str(OutboxStatus(row["status"])): int(row["count"]) for row in rows}
    return Report(
        sent=counts.get(OutboxStatus.SENT, 0),
        blocked=counts.get(OutboxStatus.BLOCKED, 0),
        failed=counts.get(OutboxStatus.FAILED, 0),
        pending=counts.get(OutboxStatus.PENDING, 0) + counts.get(OutboxStatus.SENDING, 0),
        cancelled=counts.get(OutboxStatus.CANCELLED, 0),
        by_status=counts,
    )


async def mark_reachable(telegram_id: int) -> bool:
    """She wrote to the bot again after blocking it: messages to her are sent again.

    Returns True if she was marked as having blocked the bot.
    """
    changed = await Person.filter(telegram_id=telegram_id, blocked_bot_at__isnull=False).update(
        blocked_bot_at=None
    )
    return bool(changed)


async def purge(before: datetime) -> int:
    """Delete finished rows queued before `before` (they hold message texts: personal data)."""
    return await OutboxMessage.filter(status__in=FINISHED, created_at__lt=before).delete()


# -- after-send hooks and wake-up listeners ----------------------------------------------


def register_after_send(purpose: str, hook: AfterSendHook) -> None:
    """Run `hook(row, message)` after a message with this `purpose` was sent.

    `message` is the Message Telegram returned (None for calls that return no message).
    A failing hook is logged; the message stays sent.
    """
    if not 0 < len(purpose) <= PURPOSE_MAX_LENGTH:
        raise ValueError(f"purpose must be 1 to {PURPOSE_MAX_LENGTH} characters")
    _after_send[purpose] = hook


def after_send_hook(purpose: str | None) -> AfterSendHook | None:
    return _after_send.get(purpose) if purpose else None


async def _erase(row: OutboxMessage, message: Message | None) -> None:
    await OutboxMessage.filter(id=row.id).delete()


# The last words to someone who asked to be forgotten: the row goes once sent.
ERASE_AFTER_SENDING = "erase"
register_after_send(ERASE_AFTER_SENDING, _erase)


def add_listener(callback: Callable[[], None]) -> None:
    """`callback()` runs (synchronously) whenever a message becomes due: wakes the worker."""
    _listeners.append(callback)


def remove_listener(callback: Callable[[], None]) -> None:
    if callback in _listeners:
        _listeners.remove(callback)


def _notify() -> None:
    for callback in list(_listeners):
        callback()


# -- helpers -------------------------------------------------------------------------------


def _row_fields(item: Outgoing, now: datetime) -> dict[str, Any]:
    if not item.method:
        raise ValueError("method is required, e.g. 'sendMessage'")
    if item.dedupe_key is not None and not 0 < len(item.dedupe_key) <= 128:
        raise ValueError("dedupe_key must be 1 to 128 characters")
    not_before = item.not_before or now
    if not_before.tzinfo is None:
        raise ValueError("not_before must be an aware datetime (UTC)")
    return {
        "chat_id": int(item.chat_id),
        "method": item.method,
        "payload": render_payload(item.text, item.payload, item.reply_markup),
        "status": OutboxStatus.PENDING,
        "priority": item.priority,
        "not_before": not_before,
        "dedupe_key": item.dedupe_key,
        "broadcast_id": item.broadcast_id,
        "purpose": item.purpose,
        "reference": item.reference,
        "created_at": now,
    }


def render_payload(
    text: str | None, payload: dict[str, Any] | None, reply_markup: Any
) -> dict[str, Any]:
    """The JSON arguments of the call, with this bot's defaults for formatted text."""
    body = dict(payload or {})
    if text is not None:
        body["text"] = text
    if reply_markup is not None:
        body["reply_markup"] = (
            reply_markup.to_dict() if hasattr(reply_markup, "to_dict") else reply_markup
        )
    if "text" in body or "caption" in body:
        body.setdefault("parse_mode", DEFAULT_PARSE_MODE)
    if "text" in body:
        body.setdefault("link_preview_options", dict(NO_LINK_PREVIEW))
    return body


async def _is_blocked(chat_id: int) -> bool:
    if chat_id <= 0:  # groups and channels are not people
        return False
    return await Person.exists(telegram_id=chat_id, blocked_bot_at__isnull=False)


async def _blocked_among(chat_ids: set[int]) -> set[int]:
    blocked: set[int] = set()
    for chunk in _chunks(sorted(chat_id for chat_id in chat_ids if chat_id > 0)):
        blocked.update(
            await Person.filter(telegram_id__in=chunk, blocked_bot_at__isnull=False).values_list(
                "telegram_id", flat=True
            )
        )
    return blocked


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _utcnow() -> datetime:
    return clock.now()
