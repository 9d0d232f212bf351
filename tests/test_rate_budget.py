"""Telegram's ~30 messages per second are per bot: processes sharing PostgreSQL take their
turns from one budget, and a flood wait one of them meets holds them all."""

from __future__ import annotations

import asyncio
import time

import pytest

from companion_bot.workers.ratelimit import DatabaseBudget, SharedRateLimiter
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="several processes share a database on PostgreSQL only"
)
RATE = 40


class RecordedBudget(DatabaseBudget):
    """Notes the slot each call was given (this process's clock)."""

    def __init__(self, slots: list[float]) -> None:
        super().__init__(RATE)
        self.slots = slots

    async def take(self) -> float:
        wait = await super().take()
        self.slots.append(time.monotonic() + wait)
        return wait


async def test_two_processes_never_send_faster_than_the_rate_together(db):
    """Two limiters, as two processes would have, each wanting to send as fast as it can:
    their slots together keep to the rate (how late each call then starts is the event
    loop's affair, and only ever later)."""
    slots: list[float] = []
    sent = 0

    async def send() -> dict:
        nonlocal sent
        sent += 1
        return {"ok": True}

    limiters = [
        SharedRateLimiter(RATE, budget=RecordedBudget(slots), max_retries=0) for _ in range(2)
    ]

    async def sends(limiter: SharedRateLimiter, chat_id: int) -> None:
        for _ in range(RATE):
            await limiter.process_request(send, (), {}, "sendMessage", {"chat_id": chat_id}, None)

    await asyncio.gather(sends(limiters[0], 1), sends(limiters[1], 2))

    assert sent == len(slots) == 2 * RATE
    slots.sort()
    # In any second, at most RATE slots (each process alone would send RATE at once).
    for index, first in enumerate(slots):
        within = sum(1 for later in slots[index:] if later < first + 1.0)
        assert within <= RATE, (index, within)


async def test_a_flood_wait_holds_every_process(db):
    budget, other = DatabaseBudget(RATE), DatabaseBudget(RATE)
    assert await budget.take() < 0.5  # nothing queued: at once
    await other.pause(30)  # what another process was told by Telegram
    assert 29 < await budget.take() <= 31
