"""Long-lived services started with the bot, each a worker of one durable queue (see
`queue`): the inbox worker handles received updates, the outbox worker sends messages, the
scheduler runner runs timed tasks; and the rate limiter every Bot API call goes through.

Every queue lives in the database, so several bot processes share the work and a crash
loses nothing: only what was in hand at that moment may happen twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram.ext import Application

from companion_bot.telegram_sender import TelegramSender
from companion_bot.workers.inbox import Dispatcher, InboxCounters, InboxWorker, current_scope
from companion_bot.workers.outbox import OutboxCounters, OutboxWorker, outstanding_messages
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
    outbox: OutboxWorker
    scheduler: SchedulerRunner

    async def wait_idle(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - public API
        """Until every stored update is handled and the messages it queued are sent."""
        await self.inbox.wait_idle(timeout)
        await self.outbox.wait_idle(timeout)


async def start_workers(
    application: Application, dispatcher: Dispatcher, *, in_order: bool = False
) -> Workers:
    """Start the inbox and outbox workers and the scheduler runner (Tortoise must be open).
    `in_order`: updates are stored in the order they were made (long polling), so the inbox
    need not wait for one that is missing (see `InboxWorker.gap_wait`)."""
    settings = application.bot_data.get("settings")
    interval = settings.TELEGRAM_CHAT_INTERVAL if settings is not None else 1.0
    order_wait = settings.INBOX_ORDER_WAIT if settings is not None else 1.0
    workers = Workers(
        InboxWorker(dispatcher, gap_wait=0.0 if in_order else order_wait),
        OutboxWorker(TelegramSender(application.bot), per_chat_interval=interval),
        SchedulerRunner(),
    )
    application.bot_data[WORKERS_KEY] = workers
    await workers.outbox.start()
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
    await workers.outbox.stop()


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
