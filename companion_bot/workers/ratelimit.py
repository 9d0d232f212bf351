"""One rate budget for every Bot API call that writes to a chat: the outbox and anything a
handler still sends directly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from tortoise.connection import get_connection

logger = logging.getLogger(__name__)


def retry_after_seconds(error: RetryAfter) -> float:
    """A timedelta: we opt in to PTB's time periods as timedeltas (companion_bot/__init__.py)."""
    return error.retry_after.total_seconds()  # type: ignore[union-attr]


class DatabaseBudget:
    """Telegram's ~30 messages per second are per bot, whichever process sends them: on
    PostgreSQL the processes take their turns from one row (`RateBudget`), one statement per
    call, the database's clock deciding. A slot is `1/rate` seconds after the previous one
    (`headroom` keeps a margin), and a flood wait one process meets holds them all."""

    TAKE = (
        'INSERT INTO "rate_budget" ("name", "next_at") VALUES ($1, clock_timestamp() + $2)'
        ' ON CONFLICT ("name") DO UPDATE SET "next_at" ='
        ' GREATEST("rate_budget"."next_at", clock_timestamp()) + $2'
        ' RETURNING EXTRACT(EPOCH FROM "next_at" - clock_timestamp()) AS "ahead"'
    )
    PUSH = (
        'INSERT INTO "rate_budget" ("name", "next_at") VALUES ($1, clock_timestamp() + $2)'
        ' ON CONFLICT ("name") DO UPDATE SET "next_at" ='
        ' GREATEST("rate_budget"."next_at", clock_timestamp() + $2)'
    )

    def __init__(
        self, messages_per_second: float, *, headroom: float = 0.99, name: str = "telegram"
    ) -> None:
        self.name = name
        self.interval = timedelta(seconds=1 / (messages_per_second * headroom))

    async def take(self) -> float:
        """Reserve the next slot; the seconds to wait for it."""
        rows = await get_connection("default").execute_query_dict(
            self.TAKE, [self.name, self.interval]
        )
        return max(0.0, float(rows[0]["ahead"]) - self.interval.total_seconds())

    async def pause(self, seconds: float) -> None:
        """No slot for anyone before `seconds` from now."""
        await get_connection("default").execute_query(
            self.PUSH, [self.name, timedelta(seconds=seconds)]
        )


@dataclass
class _Call:
    """When a paced call went out; once answered, when the answer came (Telegram saw the call
    in between, so counting from the answer can never undercount a window)."""

    at: float
    answered: bool = False


class SharedRateLimiter(BaseRateLimiter[dict[str, Any]]):
    """Paces every Bot API call that writes to a chat: the outbox and handlers' replies.

    PTB's AIORateLimiter is a leaky bucket: after an idle spell it lets `rate` calls through
    at once and then `rate` per second, i.e. up to twice the limit within one second, which
    Telegram answers with 429s; and its RetryAfter retries cannot be turned off per call
    (`rate_limit_args=0` falls back to the default). Here a call starts only once fewer than
    `rate` calls were answered within the last `1/headroom` seconds, so Telegram never sees
    more than `rate` calls in a second whatever the network delays, and at least 90% of the
    average spacing after the previous call: smooth, yet a caller held up (say by a database
    query) catches up instead of losing its turn for good. A RetryAfter pauses every call
    for the time Telegram asked; the outbox passes `rate_limit_args={"max_retries": 0}` to
    handle flood waits itself (the message goes back to its queue). Groups also get
    Telegram's 20 messages per minute.
    """

    def __init__(
        self,
        messages_per_second: float,
        *,
        headroom: float = 0.99,
        group_messages_per_minute: float = 20,
        max_retries: int = 3,
        clock: Callable[[], float] = time.monotonic,
        budget: DatabaseBudget | None = None,
    ) -> None:
        if messages_per_second <= 0:
            raise ValueError("messages_per_second must be positive")
        self.limit = max(1, int(messages_per_second))
        self.window = self.limit / (messages_per_second * headroom)
        self.min_gap = 0.9 * self.window / self.limit
        self.max_retries = max_retries
        self.flood_waits = 0
        self._group_limit = group_messages_per_minute
        self._clock = clock
        self._calls: deque[_Call] = deque()  # in the order they were let through
        self._last_start = 0.0
        self._paused_until = 0.0
        self._group_sends: dict[int | str, deque[float]] = {}
        self.budget = budget

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def pause(self, seconds: float) -> None:
        """Hold every call for `seconds` (Telegram's flood wait applies to the whole bot)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        retries = int((rate_limit_args or {}).get("max_retries", self.max_retries))
        chat_id = data.get("chat_id")
        attempt = 0
        while True:
            call = None
            if chat_id is None:
                await self._wait_unpaused()
            else:
                call = await self._wait_turn(chat_id)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                seconds = retry_after_seconds(error)
                self.flood_waits += 1
                self.pause(seconds)
                if self.budget is not None:
                    await self.budget.pause(seconds)
                logger.warning(
                    "Flood control: Telegram asks to wait %.0f s (%s)", seconds, endpoint
                )
                if attempt >= retries:
                    raise
                attempt += 1
            finally:
                if call is not None:
                    call.at, call.answered = max(call.at, self._clock()), True

    async def _wait_unpaused(self) -> None:
        # A loop, not an Event: another flood wait may push the deadline back meanwhile.
        while (remaining := self.paused_for()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(remaining)

    def _reserve(self) -> _Call:
        """The earliest start keeping every window within the limit, reserved at once."""
        now = self._clock()
        start = max(now, self._paused_until, self._last_start + self.min_gap)
        while self._calls and self._calls[0].answered and self._calls[0].at <= start - self.window:
            self._calls.popleft()
        # A call not answered yet may reach Telegram any moment: it counts as sent now.
        times = sorted(call.at if call.answered else max(call.at, now) for call in self._calls)
        recent = [at for at in times if at > start - self.window]
        if len(recent) >= self.limit:
            start = max(start, recent[-self.limit] + self.window)
        self._last_start = start
        call = _Call(start)
        self._calls.append(call)
        return call

    async def _wait_turn(self, chat_id: int | str) -> _Call:
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(chat_id)
        while True:
            await self._wait_unpaused()
            if isinstance(chat_id, str) or chat_id < 0:
                await self._wait_group(chat_id)
            if self.budget is not None:  # the processes' common turn, not only ours
                delay = await self.budget.take()
                call = _Call(self._clock() + delay)
            else:
                call = self._reserve()
                delay = call.at - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.paused_for() == 0:
                break  # else a flood wait began while we queued: queue again after it
            call.answered = True  # never made: counts as a call at its slot, harmlessly
        return call

    async def _wait_group(self, group: int | str) -> None:
        sends = self._group_sends.setdefault(group, deque())
        while True:
            now = self._clock()
            while sends and sends[0] <= now - 60:
                sends.popleft()
            if len(sends) < self._group_limit:
                sends.append(now)
                return
            await asyncio.sleep(sends[0] + 60 - now)
