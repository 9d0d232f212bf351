"""Telegram's flood limits and flaky network, both off unless a test switches them on."""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .models import ApiError, FailureKind


@dataclass
class Limits:
    """Which of Telegram's limits the emulator enforces. All off by default.

    `Limits.telegram()` gives the documented values (30 messages/s per bot, 1/s per chat
    with short bursts allowed: `per_chat_burst` messages within as many seconds, 20/min per
    group); edits count as messages. `failure_rate` is the share of send requests
    that fail with one of `failure_kinds`, drawn from `random.Random(seed)` so a run is
    reproducible.
    """

    rate_limit_per_second: float | None = None
    per_chat_per_second: float | None = None
    per_chat_burst: int = 1
    per_group_per_minute: float | None = None
    failure_rate: float = 0.0
    failure_kinds: tuple[FailureKind, ...] = ("500", "502", "drop")
    seed: int = 0

    @classmethod
    def telegram(cls, **overrides: object) -> Limits:
        values: dict[str, object] = {
            "rate_limit_per_second": 30,
            "per_chat_per_second": 1,
            "per_chat_burst": 3,
            "per_group_per_minute": 20,
        }
        return cls(**(values | overrides))  # type: ignore[arg-type]


class SlidingWindow:
    """At most `limit` events in any `window` seconds; remembers accepted events only."""

    def __init__(self, limit: float, window: float) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def retry_after(self, now: float) -> float:
        """Seconds to wait before an event is allowed; 0 when allowed now."""
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        if len(self._times) < self.limit:
            return 0.0
        return self._times[0] + self.window - now

    def record(self, now: float) -> None:
        self._times.append(now)


@dataclass
class FloodControl:
    """Sliding windows per bot and per (bot, chat) for the limits in force."""

    limits: Limits
    clock: Callable[[], float]
    _windows: dict[tuple[str, int, int], SlidingWindow] = field(default_factory=dict)
    _random: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.limits.seed)

    def reset(self, limits: Limits) -> None:
        self.limits = limits
        self._windows.clear()
        self._random = random.Random(limits.seed)

    def _rules(self, bot_id: int, chat_id: int) -> list[tuple[str, int, float, float]]:
        rules = []
        if self.limits.rate_limit_per_second:
            rules.append(("bot", 0, self.limits.rate_limit_per_second, 1.0))
        if chat_id > 0 and self.limits.per_chat_per_second:
            burst = max(1, self.limits.per_chat_burst)
            rules.append(("chat", chat_id, self.limits.per_chat_per_second * burst, burst))
        if chat_id < 0 and self.limits.per_group_per_minute:
            rules.append(("group", chat_id, self.limits.per_group_per_minute, 60.0))
        return rules

    def check(self, bot_id: int, chat_id: int) -> None:
        """Record one message to `chat_id`, or raise the 429 Telegram would answer."""
        now = self.clock()
        windows = []
        for scope, key, limit, window in self._rules(bot_id, chat_id):
            sliding = self._windows.setdefault((scope, bot_id, key), SlidingWindow(limit, window))
            wait = sliding.retry_after(now)
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                raise ApiError(429, f"Too Many Requests: retry after {seconds}", seconds)
            windows.append(sliding)
        for sliding in windows:
            sliding.record(now)

    def draw_failure(self) -> FailureKind | None:
        """The injected failure for this send request, if any (seeded, reproducible)."""
        if self.limits.failure_rate <= 0:
            return None
        if self._random.random() >= self.limits.failure_rate:
            return None
        return self._random.choice(self.limits.failure_kinds)
