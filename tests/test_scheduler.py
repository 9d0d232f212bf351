"""Scheduled tasks: run once when due, rescheduled by key, cancelled, retried then failed,
and never lost or run twice by several runners."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from tortoise import Tortoise

from companion_bot.db import open_database
from companion_bot.models import ScheduledTask, TaskStatus
from companion_bot.services import scheduler
from companion_bot.workers import HOST_KEY, SchedulerRunner
from tests.test_outbox import dead_local_pid

KIND = "test-reminder"


@pytest.fixture
def calls(monkeypatch):
    """Register a handler for KIND that records (payload, now); restored afterwards."""
    monkeypatch.setattr(scheduler, "_handlers", dict(scheduler._handlers))
    seen: list[tuple[dict, datetime]] = []

    async def handler(payload: dict, now: datetime) -> None:
        seen.append((payload, now))

    scheduler.register(KIND, handler)
    return seen


def runner(**options) -> SchedulerRunner:
    return SchedulerRunner(**({"backoff_base": 0.0, "poll_interval": 0.05} | options))


def now() -> datetime:
    return datetime.now(UTC)


async def test_due_tasks_run_once_and_future_tasks_wait(db, calls):
    due = await scheduler.schedule(KIND, now(), {"wave": 1})
    later = await scheduler.schedule(KIND, now() + timedelta(hours=1), {"wave": 2})
    assert await runner().run_due() == 1
    assert await runner().run_due() == 0
    assert [payload for payload, _ in calls] == [{"wave": 1}]
    assert calls[0][1].tzinfo is not None
    await due.refresh_from_db()
    await later.refresh_from_db()
    assert (due.status, later.status) == (TaskStatus.DONE, TaskStatus.PENDING)
    assert due.done_at is not None


async def test_scheduling_a_key_again_moves_the_task(db, calls):
    first = await scheduler.schedule(KIND, now() + timedelta(hours=1), {"v": 1}, dedupe_key="k")
    moved = await scheduler.schedule(KIND, now(), {"v": 2}, dedupe_key="k")
    assert moved.id == first.id
    assert await ScheduledTask.all().count() == 1
    assert (await scheduler.pending("k")).payload == {"v": 2}
    await runner().run_due()
    assert [payload for payload, _ in calls] == [{"v": 2}]
    assert await scheduler.pending("k") is None
    # Once done, the same key arms the task again.
    again = await scheduler.schedule(KIND, now(), {"v": 3}, dedupe_key="k")
    assert again.id == first.id and again.status == TaskStatus.PENDING
    await runner().run_due()
    assert [payload for payload, _ in calls] == [{"v": 2}, {"v": 3}]


async def test_a_handler_that_reschedules_its_own_key_is_not_marked_done(db, monkeypatch):
    monkeypatch.setattr(scheduler, "_handlers", dict(scheduler._handlers))
    runs = []

    async def round_then_next(payload: dict, when: datetime) -> None:
        runs.append(payload["n"])
        await scheduler.schedule(
            "test-round", when + timedelta(minutes=30), {"n": payload["n"] + 1}, dedupe_key="r"
        )

    scheduler.register("test-round", round_then_next)
    await scheduler.schedule("test-round", now(), {"n": 1}, dedupe_key="r")
    await runner().run_due()
    task = await ScheduledTask.get(dedupe_key="r")
    assert runs == [1]
    assert task.status == TaskStatus.PENDING
    assert task.payload == {"n": 2}
    assert task.due_at > now() + timedelta(minutes=29)


async def test_cancel_by_key_and_by_prefix(db, calls):
    for wave in (1, 2):
        for member in (1, 2):
            await scheduler.schedule(KIND, now(), dedupe_key=f"wave:{wave}:{member}")
    assert await scheduler.cancel("wave:2:1")
    assert not await scheduler.cancel("wave:2:1")
    assert await scheduler.cancel_prefix("wave:1:") == 2
    assert await runner().run_due() == 1
    statuses = Counter(await ScheduledTask.all().values_list("status", flat=True))
    assert statuses == {TaskStatus.CANCELLED: 3, TaskStatus.DONE: 1}
    with pytest.raises(ValueError):
        await scheduler.cancel_prefix("")


async def test_a_failing_handler_is_retried_then_failed(db, monkeypatch, caplog):
    monkeypatch.setattr(scheduler, "_handlers", dict(scheduler._handlers))
    attempts = []

    async def broken(payload: dict, when: datetime) -> None:
        attempts.append(when)
        raise RuntimeError("the matching engine fell over")

    scheduler.register("test-broken", broken)
    task = await scheduler.schedule("test-broken", now())
    await runner(max_attempts=3).run_due()  # no backoff here: all attempts in one go
    await task.refresh_from_db()
    assert len(attempts) == 3
    assert task.status == TaskStatus.FAILED and task.attempts == 3
    assert "the matching engine fell over" in task.last_error
    assert "failed 3 times" in caplog.text


async def test_a_retried_task_waits_for_its_backoff(db, monkeypatch):
    monkeypatch.setattr(scheduler, "_handlers", dict(scheduler._handlers))

    async def broken(payload: dict, when: datetime) -> None:
        raise RuntimeError("database busy")

    scheduler.register("test-broken", broken)
    task = await scheduler.schedule("test-broken", now())
    await runner(backoff_base=60).run_due()
    await task.refresh_from_db()
    assert task.status == TaskStatus.PENDING and task.attempts == 1
    assert task.due_at > now() + timedelta(seconds=50)
    assert "database busy" in task.last_error


async def test_an_unknown_kind_fails_with_a_clear_error(db):
    task = await scheduler.schedule("nobody-handles-this", now())
    await runner().run_due()
    await task.refresh_from_db()
    assert task.status == TaskStatus.FAILED
    assert task.last_error == "no handler registered for task kind 'nobody-handles-this'"


async def test_tasks_survive_a_restart(db, calls):
    """Due tasks, and a task left running by a crashed process, run in the next life."""
    await scheduler.schedule(KIND, now() - timedelta(minutes=5), {"missed": "while down"})
    crashed = await ScheduledTask.create(
        kind=KIND, due_at=now(), payload={"was": "running"}, status=TaskStatus.RUNNING,
        claimed_by=f"{HOST_KEY}-{dead_local_pid()}-abcdef", claimed_at=now(),
    )  # fmt: skip
    await Tortoise.close_connections()
    await open_database(db)  # a new process on the same database

    background = runner()
    await background.start()
    try:
        await background.wait_idle(timeout=10)
    finally:
        await background.stop()
    assert sorted(str(payload) for payload, _ in calls) == [
        "{'missed': 'while down'}",
        "{'was': 'running'}",
    ]
    await crashed.refresh_from_db()
    assert crashed.status == TaskStatus.DONE
    assert background.counters.recovered == 1


async def test_the_runner_wakes_up_for_a_task_scheduled_now(db, calls):
    background = runner(poll_interval=30)  # only the wake-up can make this fast
    await background.start()
    try:
        await asyncio.sleep(0)  # let it settle into its long sleep
        await scheduler.schedule(KIND, now(), {"n": 1})
        await background.wait_idle(timeout=10)
    finally:
        await background.stop()
    assert [payload for payload, _ in calls] == [{"n": 1}]


async def test_stopping_lets_a_running_task_finish(db, monkeypatch):
    monkeypatch.setattr(scheduler, "_handlers", dict(scheduler._handlers))
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(payload: dict, when: datetime) -> None:
        started.set()
        await release.wait()

    scheduler.register("test-slow", slow)
    task = await scheduler.schedule("test-slow", now())
    background = runner()
    await background.start()
    await started.wait()
    stopping = asyncio.create_task(background.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()
    release.set()
    await stopping
    await task.refresh_from_db()
    assert task.status == TaskStatus.DONE


async def test_a_task_still_running_at_the_stop_deadline_goes_back_to_the_queue(db, monkeypatch):
    monkeypatch.setattr(scheduler, "_handlers", dict(scheduler._handlers))
    started = asyncio.Event()

    async def stuck(payload: dict, when: datetime) -> None:
        started.set()
        await asyncio.Event().wait()

    scheduler.register("test-stuck", stuck)
    task = await scheduler.schedule("test-stuck", now())
    background = runner(stop_timeout=0.1)
    await background.start()
    await started.wait()
    await background.stop()
    await task.refresh_from_db()
    assert task.status == TaskStatus.PENDING and task.claimed_by is None


async def test_two_runners_never_run_a_task_twice(db, monkeypatch):
    """Each runner claims in its own transaction: on PostgreSQL with FOR UPDATE SKIP LOCKED
    on a connection of its own, on SQLite serialised by the single connection."""
    monkeypatch.setattr(scheduler, "_handlers", dict(scheduler._handlers))
    runs: Counter[int] = Counter()

    async def count(payload: dict, when: datetime) -> None:
        runs[payload["n"]] += 1
        await asyncio.sleep(0.001)

    scheduler.register("test-count", count)
    for n in range(200):
        await scheduler.schedule("test-count", now(), {"n": n})
    first, second = runner(concurrency=8), runner(concurrency=8)
    await asyncio.gather(first.start(), second.start())
    try:
        await asyncio.gather(first.wait_idle(timeout=30), second.wait_idle(timeout=30))
    finally:
        await asyncio.gather(first.stop(), second.stop())
    assert len(runs) == 200
    assert set(runs.values()) == {1}
    assert first.counters.done + second.counters.done == 200
    assert first.counters.done > 0 and second.counters.done > 0
