"""How long an event keeps personal data: `retention_days` after closing (an event setting,
asked by `/newevent` and `companion-bot event create`), then `lifecycle.purge_event` keeps
only anonymous statistics. Light on imports: the command line reads it for its help."""

from __future__ import annotations

import re

from companion_bot.i18n import N_
from companion_bot.services.errors import UserInputError

DEFAULT_RETENTION_DAYS = 7
MAX_RETENTION_DAYS = 90


def check_retention_days(days: int) -> int:
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise UserInputError(
            N_("Keep personal data between 1 and {limit} days after closing."),
            limit=MAX_RETENTION_DAYS,
        )
    return days


def parse_retention_days(text: str) -> int:
    """How many days after closing an organizer wants personal data kept, as she types it."""
    found = re.match(r"\s*(\d{1,4})(\s|$)", text or "")  # "7", "7 days", "7 jours"
    if found is None:
        raise UserInputError(N_("Please write a number of days, like 7."))
    return check_retention_days(int(found.group(1)))
