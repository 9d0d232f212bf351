"""Coordinates in queued messages: where she is when she asks for help, and the live
location she shares with her group. The outbox keeps sent messages until the event's purge;
their coordinates are not kept that long: they are blanked once the message is sent, and
those that could not be sent are blanked when she stops sharing and the morning after.

Queue location messages with `purpose=PURPOSE` (relayed live locations use the relay's
purpose and call `blank` from its after-send hook).
"""

from __future__ import annotations

from companion_bot import notices
from companion_bot.models import OutboxMessage, OutboxStatus
from companion_bot.services.outbox import Delivered

PURPOSE = "location"
KINDS = (notices.LOCATION, notices.MOVE_LOCATION)
COORDINATES = ("latitude", "longitude", "horizontal_accuracy", "heading")
NOT_SENT = (OutboxStatus.FAILED, OutboxStatus.BLOCKED, OutboxStatus.CANCELLED)


def without_coordinates(payload: dict | None) -> dict:
    return {key: value for key, value in (payload or {}).items() if key not in COORDINATES}


async def blank(row: OutboxMessage, delivered: Delivered | None = None) -> None:
    """After-send hook: the point reached her, the outbox needs it no more. The row's
    purpose is cleared too: it has done its job, and the sweep skips the row."""
    if row.method not in KINDS:
        return
    await OutboxMessage.filter(id=row.id).update(
        payload=without_coordinates(row.payload), purpose=None
    )


async def blank_finished() -> int:
    """Blank the coordinates of location messages that will never be sent (whatever
    queued them: help alerts, relayed live locations)."""
    rows = await OutboxMessage.filter(method__in=KINDS, status__in=NOT_SENT)
    rows = [row for row in rows if set(COORDINATES) & set(row.payload or {})]
    for row in rows:
        await blank(row)
    return len(rows)
