"""What the bot counts about the updates it handles, for `/metrics` (companion_bot/web/metrics.py).

In memory, per process, since start: `PerUserUpdateProcessor` reports each handled update
with the time its handlers and the persistence write took. Kept tiny on purpose: a dict
increment and a bisect per update.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

from telegram import Update
from telegram.ext import Application

METRICS_KEY = "metrics"

# The common kinds first: most updates stop at the first or second test.
_COMMON_TYPES = ("message", "callback_query", "edited_message", "my_chat_member")
_UPDATE_TYPES = (
    *_COMMON_TYPES,
    *(str(kind) for kind in Update.ALL_TYPES if str(kind) not in _COMMON_TYPES),
)

# Seconds. Fine below 250 ms, where a person still feels the bot answers at once.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def update_type(update: object) -> str:
    """`message`, `callback_query`…: the Bot API field the update carries."""
    if not isinstance(update, Update):
        return "other"
    for name in _UPDATE_TYPES:
        if getattr(update, name, None) is not None:
            return name
    return "other"


@dataclass
class Histogram:
    """Cumulative-at-export histogram in Prometheus' sense: counts per upper bound."""

    bounds: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, count of observations ≤ le) for each bound and +Inf."""
        running, rows = 0, []
        for bound, count in zip((*self.bounds, None), self.counts, strict=True):
            running += count
            rows.append(("+Inf" if bound is None else repr(bound), running))
        return rows


@dataclass
class UpdateMetrics:
    """Updates handled, by type, and how long handling took."""

    handled: Counter[str] = field(default_factory=Counter)
    latency: Histogram = field(default_factory=Histogram)

    def observe(self, update: object, seconds: float) -> None:
        self.handled[update_type(update)] += 1
        self.latency.observe(seconds)


def update_metrics(application: Application) -> UpdateMetrics:
    metrics = application.bot_data.get(METRICS_KEY)
    if metrics is None:
        metrics = application.bot_data[METRICS_KEY] = UpdateMetrics()
    return metrics
