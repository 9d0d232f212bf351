"""python-telegram-bot's time periods are read without its deprecation warning: the package
opts in to timedeltas (companion_bot/__init__.py), and our code reads them as such. (The
suite also turns any PTBDeprecationWarning into an error, see pyproject.toml.)"""

from __future__ import annotations

import warnings
from datetime import timedelta

from telegram import Location
from telegram.error import RetryAfter
from telegram.warnings import PTBDeprecationWarning

from companion_bot.workers import retry_after_seconds


def ptb_deprecations(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, PTBDeprecationWarning)]


def test_a_flood_wait_is_read_without_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        error = RetryAfter(3)  # PTB reads its own attribute while building it
        assert retry_after_seconds(error) == 3.0
    assert ptb_deprecations(caught) == []


def test_a_live_locations_period_is_a_timedelta() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        period = Location(longitude=2.35, latitude=48.85, live_period=900).live_period
    assert period == timedelta(minutes=15)
    assert ptb_deprecations(caught) == []
