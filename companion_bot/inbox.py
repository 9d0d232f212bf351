"""The inbox: every update a channel hands us, committed before the channel is answered.

The webhook answers Telegram only once its update is stored here; long polling confirms an
update (asks for the next ones) only once it is stored. Storing is idempotent: a second
delivery of the same update (`channel`, `update_id`) changes nothing. The inbox worker
(`companion_bot.workers.inbox`) then handles each person's updates one at a time, in order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from companion_bot import clock
from companion_bot.models import Channel, InboxStatus, InboxUpdate, Person
from companion_bot.wakeups import Signal

# Says an update was stored (the inbox worker listens).
NEW_WORK = Signal()


@dataclass(frozen=True)
class Received:
    """One update as it came: its id, whose it is (updates of one key are handled one at a
    time, in order), and its JSON."""

    update_id: int
    key: str
    payload: dict[str, Any]


async def store(channel: str, received: Received) -> bool:
    """Commit one update; False when it was already stored (a second delivery). Not to be
    called inside a transaction (the webhook's request is in none)."""
    now = clock.now()
    try:  # one INSERT, outside any transaction: committed when it returns
        await InboxUpdate.create(
            channel=channel,
            update_id=received.update_id,
            key=received.key,
            payload=received.payload,
            due_at=now,
        )
    except IntegrityError:
        if await InboxUpdate.exists(channel=channel, update_id=received.update_id):
            return False
        raise
    NEW_WORK.notify(committed=True)
    return True


async def store_many(channel: str, batch: Iterable[Received]) -> int:
    """Commit a batch (a getUpdates answer) in one transaction; returns how many were new."""
    items = list(batch)
    if not items:
        return 0
    now = clock.now()
    async with in_transaction():
        known = set(
            await InboxUpdate.filter(
                channel=channel, update_id__in=[item.update_id for item in items]
            ).values_list("update_id", flat=True)
        )
        fresh = {item.update_id: item for item in items if item.update_id not in known}
        await InboxUpdate.bulk_create(
            [
                InboxUpdate(
                    channel=channel,
                    update_id=item.update_id,
                    key=item.key,
                    payload=item.payload,
                    due_at=now,
                )
                for item in fresh.values()
            ]
        )
    if fresh:
        NEW_WORK.notify()
    return len(fresh)


def person_key(telegram_id: int) -> str:
    """The key of a person's updates: hers are handled one at a time, in order."""
    return f"user:{telegram_id}"


def key_of(person: Person) -> str:
    """The key of her updates on her channel: on WhatsApp, her WhatsApp id (the webhook
    stores her messages under it, companion_bot/whatsapp/webhook.py)."""
    if person.channel == Channel.WHATSAPP:
        return str(person.whatsapp_id)
    return person_key(int(person.telegram_id or 0))


async def forget(key: str) -> int:
    """Her updates waiting or set aside (they hold her words), deleted with her data; the
    one being handled (her /forget) is emptied when it is marked handled."""
    return await InboxUpdate.filter(
        key=key, status__in=(InboxStatus.PENDING, InboxStatus.PARKED)
    ).delete()


# Handled updates are kept (their id only) to recognise a second delivery: Telegram keeps
# an update it could not deliver for a day. Parked ones (they failed every try) keep her
# words for the operators, a week at most.
KEEP_HANDLED = timedelta(days=1)
KEEP_PARKED = timedelta(days=7)


async def purge(now: datetime) -> int:
    """Delete handled updates past `KEEP_HANDLED` and parked ones past `KEEP_PARKED`."""
    return await InboxUpdate.filter(
        Q(status=InboxStatus.DONE, handled_at__lt=now - KEEP_HANDLED)
        | Q(status=InboxStatus.PARKED, handled_at__lt=now - KEEP_PARKED)
    ).delete()
