"""The scheduler runner: runs due scheduled tasks (reminders, escalations, matching rounds)
with the handler registered for their kind (`companion_bot.services.scheduler`).

Up to `concurrency` tasks at once; a failing handler is retried with back-off, then the
task is FAILED with its last error. A task whose process died while running it runs again
(after `lease`, or at once if that process ran on this host).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from tortoise.expressions import Q

from companion_bot import wakeups
from companion_bot.models import ScheduledTask, TaskStatus
from companion_bot.services import scheduler
from companion_bot.workers.queue import (
    ConcurrentRunner,
    QueueSpec,
    backoff,
    give_up,
    retry_later,
    utcnow,
)

logger = logging.getLogger(__name__)

TASKS = QueueSpec(
    model=ScheduledTask,
    pending=TaskStatus.PENDING,
    claimed=TaskStatus.RUNNING,
    done=TaskStatus.DONE,
    given_up=TaskStatus.FAILED,
    due_field="due_at",
    error_field="last_error",
    done_field="done_at",
    order=("due_at", "id"),
)


@dataclass
class SchedulerCounters:
    done: int = 0
    failed: int = 0
    retried: int = 0
    recovered: int = 0


class SchedulerRunner(ConcurrentRunner):
    name = "scheduler runner"
    spec = TASKS
    signal = scheduler.NEW_WORK

    def __init__(
        self,
        *,
        worker_id: str | None = None,
        concurrency: int = 4,
        lease: float = 300.0,
        poll_interval: float = 1.0,
        max_attempts: int = 5,
        backoff_base: float = 10.0,
        backoff_cap: float = 600.0,
        sweep_interval: float = 10.0,
        stop_timeout: float = 10.0,
    ) -> None:
        super().__init__(
            worker_id=worker_id,
            concurrency=concurrency,
            lease=lease,
            poll_interval=poll_interval,
            sweep_interval=sweep_interval,
            stop_timeout=stop_timeout,
        )
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.counters = SchedulerCounters()

    async def outstanding(self) -> bool:
        return await outstanding_tasks()

    def on_recovered(self, count: int) -> None:
        self.counters.recovered += count

    async def _execute(self, task: ScheduledTask) -> None:
        handler = scheduler.handler_for(task.kind)
        if handler is None:
            error = f"no handler registered for task kind {task.kind!r}"
            await give_up(TASKS, task, self.worker_id, error)
            self.counters.failed += 1
            logger.error("scheduler: task %s failed: %s", task.id, error)
            return
        try:
            with wakeups.deferred():  # what it queues wakes the workers once it is done
                await handler(dict(task.payload or {}), utcnow())
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await TASKS.mine(task.id, self.worker_id).update(
                    status=TaskStatus.PENDING, claimed_by=None, claimed_at=None
                )
            raise
        except Exception as error:
            await self._on_error(task, error)
        else:
            await TASKS.mine(task.id, self.worker_id).update(
                status=TaskStatus.DONE, done_at=utcnow()
            )
            self.counters.done += 1

    async def _on_error(self, task: ScheduledTask, error: Exception) -> None:
        attempts = task.attempts + 1
        if attempts >= self.max_attempts:
            await give_up(TASKS, task, self.worker_id, error, attempts=attempts)
            self.counters.failed += 1
            logger.error(
                "scheduler: task %s (%s) failed %d times, giving up",
                task.id, task.kind, attempts, exc_info=error,
            )  # fmt: skip
            return
        delay = backoff(attempts, self.backoff_base, self.backoff_cap)
        await retry_later(TASKS, task, self.worker_id, error, delay, attempts=attempts)
        self.counters.retried += 1
        logger.warning(
            "scheduler: task %s (%s) failed, retried in %.0f s",
            task.id, task.kind, delay, exc_info=error,
        )  # fmt: skip


async def outstanding_tasks() -> bool:
    """Is a task running, or due now? (Tasks retried later are not due yet.)"""
    return await ScheduledTask.filter(
        Q(status=TaskStatus.RUNNING) | Q(status=TaskStatus.PENDING, due_at__lte=utcnow())
    ).exists()
