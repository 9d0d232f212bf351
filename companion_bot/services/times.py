"""Reading the dates and clock times organizers type, in the event's time zone.

Nights cross midnight: a clock time ("02:00") means its first occurrence after a reference
moment (doors open), so "23:00 → 06:00" needs no date for the closing.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from companion_bot.i18n import N_
from companion_bot.services.errors import UserInputError

# "u" (uur) is how Flemish people write 23u30.
_CLOCK = re.compile(r"^\s*(\d{1,2})\s*(?:[:hHuU.]\s*(\d{2})?)?\s*$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DMY_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2,4}))?$")
_RANGE_SEPARATOR = re.compile(r"\s*(?:-|–|—|→|>|\bto\b|\bà\b|\ba\b|\btot\b)\s*")

_BAD_TIME = N_("“{text}” is not a time I can read. Write it like 23:30 or 23h30.")
_BAD_DATE = N_(
    "“{text}” is not a date I can read. Write it like 2026-12-05 23:00 or 05/12/2026 23:00."
)


def parse_clock(text: str) -> time:
    """ "23:30", "23h30", "23u30", "23h", "7.05" → a time of day; impossible times are refused."""
    match = _CLOCK.match(text or "")
    if not match:
        raise UserInputError(_BAD_TIME, text=_shorten(text))
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour == 24 and minute == 0:
        hour = 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise UserInputError(_BAD_TIME, text=_shorten(text))
    return time(hour, minute)


def _parse_date(text: str, today: date) -> date:
    text = text.strip()
    try:
        if match := _ISO_DATE.match(text):
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if match := _DMY_DATE.match(text):
            day, month = int(match.group(1)), int(match.group(2))
            if match.group(3) is None:
                candidate = date(today.year, month, day)
                return candidate if candidate >= today else date(today.year + 1, month, day)
            year = int(match.group(3))
            return date(year + 2000 if year < 100 else year, month, day)
    except ValueError:
        pass
    raise UserInputError(_BAD_DATE, text=_shorten(text))


def parse_local_datetime(text: str, timezone: str, now: datetime) -> datetime:
    """A date and a time typed by an organizer, in the event's zone, returned in UTC.

    The moment must lie in the future (an event is created before it happens).
    """
    parts = (text or "").replace("T", " ").split()
    if len(parts) < 2:
        raise UserInputError(_BAD_DATE, text=_shorten(text))
    zone = ZoneInfo(timezone)
    day = _parse_date(parts[0], now.astimezone(zone).date())
    clock = parse_clock(" ".join(parts[1:]))
    local = datetime.combine(day, clock, tzinfo=zone)
    moment = local.astimezone(UTC)
    if moment <= now:
        raise UserInputError(N_("{text} is already past. Give a date still to come."), text=text)
    return moment


def next_occurrence(clock: time, after: datetime, timezone: str) -> datetime:
    """The first moment at or after `after` when the event's clocks show `clock` (UTC)."""
    zone = ZoneInfo(timezone)
    local_after = after.astimezone(zone)
    candidate = datetime.combine(local_after.date(), clock, tzinfo=zone)
    if candidate < local_after:
        candidate = datetime.combine(local_after.date() + timedelta(days=1), clock, tzinfo=zone)
    return candidate.astimezone(UTC)


def parse_clock_range(text: str) -> tuple[time, time]:
    """ "23:00-00:00", "23h → minuit" style ranges of an arrival slot."""
    pieces = [piece for piece in _RANGE_SEPARATOR.split((text or "").strip(), maxsplit=1) if piece]
    if len(pieces) != 2:
        raise UserInputError(
            N_("“{text}” is not a time range I can read. Write it like 23:00-00:00."),
            text=_shorten(text),
        )
    return parse_clock(pieces[0]), parse_clock(pieces[1])


def _shorten(text: str | None, limit: int = 40) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
