"""Moving the bot's clock through a night: to the next scheduled task, or to a moment, running
every task due on the way in order, as the night would have played it. Shared by the demo's
"play the night" and the tests' `BotHarness.drain` / `travel_to` (tests/support.py)."""

from __future__ import annotations

from datetime import datetime

from telegram.ext import Application

from companion_bot import clock
from companion_bot.emulator import BotApiEmulator, settle
from companion_bot.models import ScheduledTask, TaskStatus
from companion_bot.workers import get_workers, outstanding_messages, outstanding_tasks


async def drain(
    emulator: BotApiEmulator,
    application: Application,
    timeout: float = 30.0,  # noqa: ASYNC109 - passed on to each wait
) -> None:
    """Until nothing is due: updates handled, scheduled tasks run, the outbox empty."""
    workers = get_workers(application)
    for _ in range(20):
        await settle(emulator, application, timeout)
        await workers.scheduler.wait_idle(timeout)
        await workers.outbox.wait_idle(timeout)
        await settle(emulator, application, timeout)
        if not (await outstanding_tasks() or await outstanding_messages()):
            return
    raise RuntimeError("the bot never became idle")


async def next_task(until: datetime | None = None) -> ScheduledTask | None:
    """The next task waiting to run (due at `until` at the latest)."""
    pending = ScheduledTask.filter(status=TaskStatus.PENDING)
    if until is not None:
        pending = pending.filter(due_at__lte=until)
    return await pending.order_by("due_at", "id").first()


def wake(application: Application) -> None:
    """After moving the clock: what became due runs now rather than at the next poll."""
    workers = get_workers(application)
    workers.scheduler.wake()
    workers.outbox.wake()


async def step(
    emulator: BotApiEmulator, application: Application, until: datetime | None = None
) -> ScheduledTask | None:
    """Jump to the next task (due at `until` at the latest) and run it, with whatever it
    causes; None when there is none."""
    await drain(emulator, application)
    task = await next_task(until)
    if task is None:
        return None
    clock.travel_to(task.due_at)
    wake(application)
    await drain(emulator, application)
    return task


async def travel_to(
    emulator: BotApiEmulator, application: Application, moment: datetime
) -> list[ScheduledTask]:
    """Move the clock forward to `moment`, stopping at each task due on the way; returns
    those tasks in the order they ran."""
    ran = []
    while (task := await step(emulator, application, moment)) is not None:
        ran.append(task)
    clock.travel_to(moment)
    wake(application)
    await drain(emulator, application)
    return ran
