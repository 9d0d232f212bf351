"""Crash points, for the tests that kill the bot where it hurts most.

`COMPANION_CRASH_AT="inbox.in_transaction:3"` makes the process kill itself (SIGKILL: no
clean-up, no flush, as a power cut or the OOM killer would) the 3rd time it reaches that
point; several points are separated by commas. Unset (always, in production), `reached` is
one dictionary lookup. The points are named where they are placed:

- `webhook.stored`: an update is committed to the inbox, Telegram has not had its answer;
- `inbox.in_transaction`: a handler ran, its transaction is not committed;
- `inbox.committed`: the update and its effects are committed, the replies not sent;
- `outbox.sent`: Telegram has a message, the outbox has not marked it sent.
"""

from __future__ import annotations

import logging
import os
import signal
from collections import Counter

logger = logging.getLogger(__name__)

ENVIRONMENT = "COMPANION_CRASH_AT"


def _read(text: str) -> dict[str, int]:
    points: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, count = item.partition(":")
        points[name] = int(count or 1)
    return points


_armed = _read(os.environ.get(ENVIRONMENT, ""))
_reached: Counter[str] = Counter()


def reached(point: str) -> None:
    if not _armed or point not in _armed:
        return
    _reached[point] += 1
    if _reached[point] == _armed[point]:
        logger.warning("Crash point %s reached (%d): killing this process", point, _reached[point])
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)
