"""Long-lived services started with the bot, each a worker of one durable queue (see
`queue`): the inbox worker handles received updates, the outbox worker sends messages, the
scheduler runner runs timed tasks; and the rate limiter every Bot API call goes through.

Every queue lives in the database, so several bot processes share the work and a crash
loses nothing: only what was in hand at that moment may happen twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from telegram.ext import Application

from companion_bot.models import Channel, InboxUpdate
from companion_bot.workers.inbox import Dispatcher, InboxCounters, InboxWorker, current_scope
from companion_bot.workers.outbox import OutboxCounters, OutboxWorker, outstanding_messages
from companion_bot.workers.outcomes import ChannelSender
from companion_bot.workers.queue import (
    HOST_KEY,
    backoff,
    claim_is_orphaned,
    new_worker_id,
    utcnow,
)
from companion_bot.workers.ratelimit import SharedRateLimiter, retry_after_seconds
from companion_bot.workers.scheduler import SchedulerCounters, SchedulerRunner, outstanding_tasks

WORKERS_KEY = "workers"


@dataclass
class Workers:
    inbox: InboxWorker
    outbox: OutboxWorker  # Telegram's
    scheduler: SchedulerRunner
    others: list[OutboxWorker] = field(default_factory=list)  # other channels' (WhatsApp)

    async def wait_idle(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - public API
        """Until every stored update is handled and the messages it queued are sent."""
        await self.inbox.wait_idle(timeout)
        for outbox_worker in self.outboxes:
            await outbox_worker.wait_idle(timeout)

    @property
    def outboxes(self) -> list[OutboxWorker]:
        return [self.outbox, *self.others]


class ChannelDispatcher:
    """Hands each stored update to the dispatcher of the channel it came from."""

    def __init__(self, by_channel: dict[str, Dispatcher]) -> None:
        self.by_channel = by_channel

    async def handle(self, row: InboxUpdate) -> None:
        dispatcher = self.by_channel.get(row.channel)
        if dispatcher is not None:  # else a channel no longer set up: nothing to do with it
            await dispatcher.handle(row)

    async def parked(self, row: InboxUpdate) -> None:
        dispatcher = self.by_channel.get(row.channel)
        if dispatcher is not None:
            await dispatcher.parked(row)


async def start_workers(
    application: Application,
    dispatchers: dict[str, Dispatcher],
    senders: list[ChannelSender],
    *,
    in_order: bool = False,
) -> Workers:
    """Start the inbox worker (each update to its channel's dispatcher), an outbox worker per
    channel's sender (Telegram's first) and the scheduler runner (Tortoise must be open).
    `in_order`: updates are stored in the order they were made (long polling), so the inbox
    need not wait for one that is missing (see `InboxWorker.gap_wait`)."""
    settings = application.bot_data.get("settings")
    interval = settings.TELEGRAM_CHAT_INTERVAL if settings is not None else 1.0
    order_wait = settings.INBOX_ORDER_WAIT if settings is not None else 1.0
    outboxes = [
        # Telegram allows about a message a second per chat; WhatsApp paces by number only.
        OutboxWorker(sender, per_chat_interval=interval if sender.channel == Channel.TELEGRAM
                     else 0.0)
        for sender in senders
    ]  # fmt: skip
    workers = Workers(
        InboxWorker(ChannelDispatcher(dispatchers), gap_wait=0.0 if in_order else order_wait),
        outboxes[0],
        SchedulerRunner(),
        outboxes[1:],
    )
    application.bot_data[WORKERS_KEY] = workers
    for outbox_worker in workers.outboxes:
        await outbox_worker.start()
    await workers.scheduler.start()
    await workers.inbox.start()
    return workers


async def stop_workers(application: Application) -> None:
    workers: Workers | None = application.bot_data.pop(WORKERS_KEY, None)
    if workers is None:
        return
    # Updates first, then the scheduler: both may still queue messages.
    await workers.inbox.stop()
    await workers.scheduler.stop()
    for outbox_worker in workers.outboxes:
        await outbox_worker.stop()
        close = getattr(outbox_worker.sender, "close", None)
        if close is not None:
            await close()


def get_workers(application: Application) -> Workers:
    """The running workers, e.g. `await get_workers(app).outbox.wait_idle()` in a test."""
    return application.bot_data[WORKERS_KEY]


__all__ = [
    "HOST_KEY",
    "WORKERS_KEY",
    "Dispatcher",
    "InboxCounters",
    "InboxWorker",
    "OutboxCounters",
    "OutboxWorker",
    "SchedulerCounters",
    "SchedulerRunner",
    "SharedRateLimiter",
    "Workers",
    "backoff",
    "claim_is_orphaned",
    "current_scope",
    "get_workers",
    "new_worker_id",
    "outstanding_messages",
    "outstanding_tasks",
    "retry_after_seconds",
    "start_workers",
    "stop_workers",
    "utcnow",
]
