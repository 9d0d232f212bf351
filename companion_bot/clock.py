"""The bot's one clock. Everything timed (reminders, escalations, rounds, retention) reads it,
so tests can play a whole night in seconds by moving it forward; real time keeps flowing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    return datetime.now(UTC) + _offset


def advance(delta: timedelta) -> datetime:
    """Jump forward (tests only); returns the new now."""
    global _offset
    if delta < timedelta(0):
        raise ValueError("the clock only moves forward")
    _offset += delta
    return now()


def travel_to(moment: datetime) -> datetime:
    return advance(max(timedelta(0), moment - now()))


def reset() -> None:
    global _offset
    _offset = timedelta(0)
