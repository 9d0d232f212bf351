"""Long-lived services started with the bot, each a worker of one durable queue (see
`queue`): the inbox worker handles received updates, the outbox worker sends messages, the
scheduler runner runs timed tasks; and the rate limiter every Bot API call goes through.

Every queue lives in the database, so several bot processes share the work and a crash
loses nothing: only what was in hand at that moment may happen twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram.ext import Application

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
    outbox: OutboxWorker
    scheduler: SchedulerRunner


async def start_workers(application: Application) -> Workers:
    """Start the outbox worker and the scheduler runner (Tortoise must be open)."""
    settings = application.bot_data.get("settings")
    interval = settings.TELEGRAM_CHAT_INTERVAL if settings is not None else 1.0
    workers = Workers(OutboxWorker(application.bot, per_chat_interval=interval), SchedulerRunner())
    application.bot_data[WORKERS_KEY] = workers
    await workers.outbox.start()
    await workers.scheduler.start()
    return workers


async def stop_workers(application: Application) -> None:
    workers: Workers | None = application.bot_data.pop(WORKERS_KEY, None)
    if workers is None:
        return
    # The scheduler first: a task finishing may still queue messages.
    await workers.scheduler.stop()
    await workers.outbox.stop()


def get_workers(application: Application) -> Workers:
    """The running workers, e.g. `await get_workers(app).outbox.wait_idle()` in a test."""
    return application.bot_data[WORKERS_KEY]


__all__ = [
    "HOST_KEY",
    "WORKERS_KEY",
    "OutboxCounters",
    "OutboxWorker",
    "SchedulerCounters",
    "SchedulerRunner",
    "SharedRateLimiter",
    "Workers",
    "backoff",
    "claim_is_orphaned",
    "get_workers",
    "new_worker_id",
    "outstanding_messages",
    "outstanding_tasks",
    "retry_after_seconds",
    "start_workers",
    "stop_workers",
    "utcnow",
]
