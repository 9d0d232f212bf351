"""Outgoing notifications, stored before they are sent.

Handlers and services never call a channel's API for a notification: they `enqueue` a
notice (companion_bot/notices.py: a kind and its fields, in no channel's terms), or
`enqueue_many` for a broadcast, which writes a row in the caller's transaction and returns
at once. The outbox worker (`companion_bot.workers.outbox`) renders each row for its
recipient's channel and sends it, paced to the channel's limits, retried on flood waits and
network errors. So a crash or a redeploy loses no
notification, and a step retried after a crash does not queue one twice (`dedupe_key`).

A message that shows a state which keeps changing (a group's card for the volunteers, a help
alert once taken) is kept up to date with `edit`: it changes the message an earlier row
became, whether that row was sent yet or not. Rows sharing a `coalesce_key` replace each
other until sent, so a burst of changes makes one call with the last state, and
`min_interval` spaces them out: never more than one edit of a message every few seconds,
whatever happens in the chat.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from companion_bot import clock, notices
from companion_bot.models import Channel, OutboxMessage, OutboxStatus, Person
from companion_bot.prepared import Prepared
from companion_bot.wakeups import Signal

logger = logging.getLogger(__name__)

# Says a message became due (the outbox worker listens).
NEW_WORK = Signal()

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
# Rows whose message is out, or about to be: what an edit can still change.
LIVE = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.SENT)
PURPOSE_MAX_LENGTH = 32  # OutboxMessage.purpose
_CHUNK = 500  # ids per IN (...) list: well below SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True)
class Delivered:
    """What a channel said of a notice it delivered: the id of the message it became there
    (None when it returned none), and the chat's id when the channel named one."""

    message_id: int | None
    chat_id: int | None = None


AfterSendHook = Callable[[OutboxMessage, Delivered], Awaitable[None]]
_after_send: dict[str, AfterSendHook] = {}


# Whom a notice is for: a person (reached on her channel), or a Telegram chat by its id
# (Telegram's edge answering the chat an update came from).
Recipient = Person | int


@dataclass(frozen=True)
class Outgoing:
    """One message for `enqueue_many`; the fields mean what `enqueue`'s arguments mean."""

    to: Recipient
    text: str | None = None
    kind: str = notices.TEXT
    payload: dict[str, Any] | None = None
    choices: Any = None
    priority: int = 0
    not_before: datetime | None = None
    dedupe_key: str | None = None
    broadcast_id: int | None = None
    purpose: str | None = None
    reference: Any = None
    coalesce_key: str | None = None
    min_interval: timedelta = timedelta(0)
    edit_of: int | None = None
    answering: bool = False  # to someone who just wrote to the bot: she has not blocked it


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
    to: Recipient,
    text: str | None = None,
    *,
    kind: str = notices.TEXT,
    payload: dict[str, Any] | None = None,
    choices: Sequence[Sequence[notices.Choice]] | None = None,
    priority: int = 0,
    not_before: datetime | None = None,
    dedupe_key: str | None = None,
    broadcast_id: int | None = None,
    purpose: str | None = None,
    reference: Any = None,
    coalesce_key: str | None = None,
    min_interval: timedelta = timedelta(0),
    answering: bool = False,
) -> OutboxMessage | None:
    """Queue one notice to `to` (a person, on her channel, or a Telegram chat id); nothing
    is sent here.

    `kind` and `payload` are the notice's (companion_bot/notices.py); `text` and `choices`
    (rows of (label, action): the buttons, signed for her when rendered) are merged into the
    payload. Higher `priority` goes first; within a priority and a chat, notices go in the
    order they were queued. `not_before` delays the notice. A `dedupe_key` already used
    makes this a no-op returning None. A `coalesce_key` makes this notice replace the one
    with the same key that is not sent yet (the returned row is that one); `min_interval`
    then keeps it that long after the last one with its key was sent. To someone who blocked
    the bot, the row is stored as BLOCKED and never sent (`answering`: she just wrote to the
    bot, so she has not: nothing to check). `purpose` names an after-send hook
    (`register_after_send`), which gets the row (with its `reference`) and what the channel
    said of it. Works inside the caller's transaction (a duplicate key only rolls back a
    savepoint).
    """
    item = Outgoing(
        to, text, kind, payload, choices, priority, not_before, dedupe_key,
        broadcast_id, purpose, reference, coalesce_key, min_interval, answering=answering,
    )  # fmt: skip
    return await _store(item)


async def edit(
    target: OutboxMessage | int,
    text: str | None = None,
    *,
    kind: str = notices.EDIT_TEXT,
    payload: dict[str, Any] | None = None,
    choices: Sequence[Sequence[notices.Choice]] | None = None,
    priority: int = 0,
    coalesce_key: str | None = None,
    min_interval: timedelta = timedelta(0),
) -> OutboxMessage | None:
    """Change the notice that the outbox row `target` became, or will become.

    Queued like `enqueue` (`text`, `payload`, `choices` mean the same; an edit that names no
    buttons takes them away), in the caller's transaction; the message id is filled in when
    the edit is sent. So it does not matter whether `target` was sent yet: a notice still
    waiting goes out with the change folded in, and an edit of a notice being sent waits
    until it is sent. Edits with the same `coalesce_key` (by default one per target) replace
    each other until sent: the last state wins; `min_interval` keeps an edit that long after
    the previous one was sent.

    Returns the row that carries the change (`target` itself when folded in), or None when
    there is nothing to change: `target` will never be sent (cancelled, failed, blocked), or
    its message already shows, or is about to show, exactly this.
    """
    if kind not in notices.EDITS:
        raise ValueError(f"not a change of a notice: {kind!r}")
    row = await OutboxMessage.get_or_none(id=target if isinstance(target, int) else target.id)
    if row is None or row.status not in LIVE:
        return None
    if row.edit_of_id is not None:
        raise ValueError("edit the message's own row, not one of its edits")
    if row.status == OutboxStatus.SENT and row.telegram_message_id is None:
        return None  # nothing the channel could change (e.g. a notice that became no message)
    key = coalesce_key or f"edit:{row.id}"
    body = notice_payload(text, payload, choices)
    latest = await OutboxMessage.filter(coalesce_key=key, status__in=LIVE).order_by("-id").first()
    shown = latest.payload if latest is not None else row.payload
    if _edited_part(kind, shown) == _edited_part(kind, body):
        return None
    if row.status == OutboxStatus.PENDING and row.method in notices.FOLDS_INTO.get(kind, ()):
        kept = {k: v for k, v in row.payload.items() if k not in notices.EDITED_FIELDS[kind]}
        folded = kept | _edited_part(kind, body)
        if await OutboxMessage.filter(id=row.id, status=OutboxStatus.PENDING).update(
            payload=folded
        ):
            # Edits queued while it was out (a flood wait sent it back) would undo this one.
            await OutboxMessage.filter(coalesce_key=key, status=OutboxStatus.PENDING).update(
                status=OutboxStatus.CANCELLED
            )
            row.payload = folded
            return row
        await row.refresh_from_db()  # claimed meanwhile: an edit after all
    item = Outgoing(
        _Address(row.channel, row.chat_id), None, kind, body, None, priority,
        # Never due before the message it edits: it could not go before it anyway.
        row.not_before if row.status == OutboxStatus.PENDING else None,
        coalesce_key=key, min_interval=min_interval, edit_of=row.id,
    )  # fmt: skip
    return await _store(item)


async def enqueue_many(messages: Iterable[Outgoing]) -> int:
    """Queue many messages at once (a broadcast); returns how many were queued.

    One bulk insert per 500 rows; messages whose `dedupe_key` is already used (or repeated
    in `messages`) are skipped, so re-running an interrupted broadcast queues only the rest.
    """
    now = _utcnow()
    items = list(messages)
    if any(item.coalesce_key is not None or item.edit_of is not None for item in items):
        raise ValueError("enqueue_many queues new messages: coalesce and edit one by one")
    keys = [item.dedupe_key for item in items if item.dedupe_key is not None]
    used: set[str] = set()
    for chunk in _chunks(sorted(set(keys))):
        used.update(
            await OutboxMessage.filter(dedupe_key__in=chunk).values_list("dedupe_key", flat=True)
        )
    blocked = await _blocked_among(items)
    rows = []
    for item in items:
        if item.dedupe_key is not None:
            if item.dedupe_key in used:
                continue
            used.add(item.dedupe_key)
        fields = _row_fields(item, now)
        if _address(item.to) in blocked:
            fields |= {"status": OutboxStatus.BLOCKED, "error": BLOCKED_ERROR}
        rows.append(OutboxMessage(**fields))
    if rows:
        # ignore_conflicts: a key queued concurrently by someone else is skipped, not an error.
        await OutboxMessage.bulk_create(rows, batch_size=_CHUNK, ignore_conflicts=bool(keys))
        NEW_WORK.notify()
    return len(rows)


async def _store(item: Outgoing) -> OutboxMessage | None:
    """One row for `enqueue` or `edit`: deduplicated, coalesced, paced, blocked."""
    now = _utcnow()
    fields = _row_fields(item, now)
    if not item.answering and await _is_blocked(item.to):
        fields |= {"status": OutboxStatus.BLOCKED, "error": BLOCKED_ERROR}
    if item.dedupe_key is not None and await OutboxMessage.exists(dedupe_key=item.dedupe_key):
        return None
    if item.coalesce_key is not None and fields["status"] == OutboxStatus.PENDING:
        replaced = await _replace_waiting(item.coalesce_key, fields)
        if replaced is not None:
            return replaced
        fields["not_before"] = await _paced(item.coalesce_key, fields["not_before"],
                                            item.min_interval, now)  # fmt: skip
    if item.dedupe_key is None:
        row = await OutboxMessage.create(**fields)
    else:
        try:
            async with in_transaction():  # a savepoint when the caller is in a transaction
                row = await OutboxMessage.create(**fields)
        except IntegrityError:
            if await OutboxMessage.exists(dedupe_key=item.dedupe_key):
                return None  # queued by someone else meanwhile
            raise
    if row.status == OutboxStatus.PENDING:
        NEW_WORK.notify()
    return row


async def _replace_waiting(key: str, fields: dict[str, Any]) -> OutboxMessage | None:
    """The row with this coalesce key that is not sent yet, now carrying `fields`' call."""
    waiting = (
        await OutboxMessage.filter(coalesce_key=key, status=OutboxStatus.PENDING)
        .order_by("-id")
        .first()
    )
    if waiting is None:
        return None
    changes = {name: fields[name] for name in ("method", "payload", "priority", "purpose",
                                               "reference", "edit_of_id")}  # fmt: skip
    changes["not_before"] = max(waiting.not_before, fields["not_before"])
    if not await OutboxMessage.filter(id=waiting.id, status=OutboxStatus.PENDING).update(**changes):
        return None  # claimed meanwhile: the new state goes in a row of its own
    waiting.update_from_dict(changes)
    NEW_WORK.notify()
    return waiting


async def _paced(key: str, not_before: datetime, interval: timedelta, now: datetime) -> datetime:
    """`not_before`, or later: `interval` after the last row with this key went out."""
    if not interval:
        return not_before
    last = (
        await OutboxMessage.filter(
            coalesce_key=key, status__in=(OutboxStatus.SENDING, OutboxStatus.SENT)
        )
        .order_by("-id")
        .first()
    )
    if last is None:
        return not_before
    went_out = now if last.status == OutboxStatus.SENDING else (last.sent_at or now)
    return max(not_before, went_out + interval)


def _edited_part(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What an edit of `kind` sets, taken from a notice's or an edit's payload."""
    names = notices.EDITED_FIELDS.get(kind)
    if names is None:  # another change (stop a live location): all of it but the message id
        return {k: v for k, v in payload.items() if k != "message_id"}
    return {name: payload[name] for name in names if payload.get(name) is not None}


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


async def sent_message_id(row_id: int, to: Recipient) -> int | None:
    """The message an outbox row became in the chat of `to`, once sent."""
    row = await queued(row_id, to)
    return row.telegram_message_id if row is not None else None


def _queued_on(channel: Channel) -> Prepared:
    return Prepared(
        OutboxMessage,
        lambda row_id, chat_id: OutboxMessage.filter(
            id=row_id, channel=channel, chat_id=chat_id
        ).limit(1),
        row_id=int,
        chat_id=int,
    )


_QUEUED = {channel: _queued_on(channel) for channel in Channel}


async def queued(row_id: int, to: Recipient) -> OutboxMessage | None:
    """An outbox row to `to`: its notice and, once sent, the message it became."""
    channel, chat_id = _address(to)
    return await _QUEUED[Channel(channel)].first(row_id=row_id, chat_id=chat_id)


def rows_to(person: Person) -> Any:
    """Every outbox row addressed to her (a query)."""
    channel, chat_id = _address(person)
    return OutboxMessage.filter(channel=channel, chat_id=chat_id)


async def recipients(rows: Iterable[OutboxMessage]) -> dict[tuple[str, int], Person]:
    """The people these rows are addressed to, by (channel, chat id)."""
    wanted: dict[str, set[int]] = {}
    for row in rows:
        wanted.setdefault(row.channel, set()).add(row.chat_id)
    found: dict[tuple[str, int], Person] = {}
    for channel, chat_ids in wanted.items():
        for chunk in _chunks(sorted(chat_ids)):
            if channel == Channel.WHATSAPP:
                for person in await Person.filter(id__in=chunk, channel=channel):
                    found[(channel, person.id)] = person
            else:
                for person in await Person.filter(telegram_id__in=chunk):
                    found[(channel, person.telegram_id)] = person
    return found


async def recipient(row: OutboxMessage) -> Person | None:
    """The person a row is addressed to (None: a chat that is no person, or she is gone)."""
    return (await recipients([row])).get((row.channel, row.chat_id))


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
    """Run `hook(row, delivered)` after a message with this `purpose` was sent.

    `delivered` says which message the notice became (its id is None when the channel
    returned none).
    A failing hook is logged; the message stays sent.
    """
    if not 0 < len(purpose) <= PURPOSE_MAX_LENGTH:
        raise ValueError(f"purpose must be 1 to {PURPOSE_MAX_LENGTH} characters")
    _after_send[purpose] = hook


def after_send_hook(purpose: str | None) -> AfterSendHook | None:
    return _after_send.get(purpose) if purpose else None


async def _erase(row: OutboxMessage, delivered: Delivered) -> None:
    await OutboxMessage.filter(id=row.id).delete()


# The last words to someone who asked to be forgotten: the row goes once sent.
ERASE_AFTER_SENDING = "erase"
register_after_send(ERASE_AFTER_SENDING, _erase)


# -- helpers -------------------------------------------------------------------------------


def _row_fields(item: Outgoing, now: datetime) -> dict[str, Any]:
    if item.kind not in notices.KINDS:
        raise ValueError(f"not a notice: {item.kind!r} (see companion_bot/notices.py)")
    for name in ("dedupe_key", "coalesce_key"):
        value = getattr(item, name)
        if value is not None and not 0 < len(value) <= 128:
            raise ValueError(f"{name} must be 1 to 128 characters")
    not_before = item.not_before or now
    if not_before.tzinfo is None:
        raise ValueError("not_before must be an aware datetime (UTC)")
    return {
        "channel": _address(item.to)[0],
        "chat_id": _address(item.to)[1],
        "method": item.kind,
        "payload": notice_payload(item.text, item.payload, item.choices),
        "status": OutboxStatus.PENDING,
        "priority": item.priority,
        "not_before": not_before,
        "dedupe_key": item.dedupe_key,
        "broadcast_id": item.broadcast_id,
        "purpose": item.purpose,
        "reference": item.reference,
        "coalesce_key": item.coalesce_key,
        "edit_of_id": item.edit_of,
        "created_at": now,
    }


def notice_payload(
    text: str | None,
    payload: dict[str, Any] | None,
    choices: Sequence[Sequence[notices.Choice]] | None,
) -> dict[str, Any]:
    """The notice's fields as stored: `payload` with `text` and `choices` merged in."""
    body = dict(payload or {})
    if text is not None:
        body["text"] = text
    if choices:
        body["choices"] = notices.choices(choices)
    return body


@dataclass(frozen=True)
class _Address:
    """Where an existing row goes: an edit goes where the message it changes went."""

    channel: str
    chat_id: int


def _address(to: Recipient | _Address) -> tuple[str, int]:
    """The channel and the chat id of a row for `to` (see OutboxMessage.chat_id)."""
    if isinstance(to, _Address):
        return to.channel, to.chat_id
    if isinstance(to, Person):
        if to.channel == Channel.WHATSAPP:
            return Channel.WHATSAPP, to.id
        if to.telegram_id is None:
            raise ValueError(f"person {to.id} has no address on {to.channel}")
        return Channel.TELEGRAM, to.telegram_id
    return Channel.TELEGRAM, int(to)


async def _is_blocked(to: Recipient | _Address) -> bool:
    if isinstance(to, Person):
        return to.blocked_bot_at is not None
    channel, chat_id = _address(to)
    if channel == Channel.WHATSAPP:
        return await Person.exists(id=chat_id, blocked_bot_at__isnull=False)
    if chat_id <= 0:  # groups and channels are not people
        return False
    return await Person.exists(telegram_id=chat_id, blocked_bot_at__isnull=False)


async def _blocked_among(items: list[Outgoing]) -> set[tuple[str, int]]:
    """The addresses among `items` of people who blocked the bot."""
    blocked = {_address(item.to) for item in items if isinstance(item.to, Person)
               and item.to.blocked_bot_at is not None}  # fmt: skip
    chat_ids = {item.to for item in items if isinstance(item.to, int) and item.to > 0}
    for chunk in _chunks(sorted(chat_ids)):
        blocked.update(
            (Channel.TELEGRAM, chat_id)
            for chat_id in await Person.filter(
                telegram_id__in=chunk, blocked_bot_at__isnull=False
            ).values_list("telegram_id", flat=True)
        )
    return blocked


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _utcnow() -> datetime:
    return clock.now()
