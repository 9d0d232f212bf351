"""What became of one outbox message a channel's sender tried to deliver: the outbox worker
(`companion_bot.workers.outbox`) records it the same way whatever the channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from companion_bot.models import Channel, OutboxMessage
from companion_bot.services.outbox import Delivered


@dataclass(frozen=True)
class Sent:
    delivered: Delivered


@dataclass(frozen=True)
class FloodWait:
    """The channel asks everyone to wait: the message goes back, nothing counts as failed."""

    seconds: float


@dataclass(frozen=True)
class Blocked:
    """She blocked the bot, or cannot be reached there: nothing more is sent to her."""

    reason: str


@dataclass(frozen=True)
class Moved:
    """The chat has a new id (a Telegram group became a supergroup)."""

    new_chat_id: int


@dataclass(frozen=True)
class Failed:
    """Refused for good: never retried."""

    reason: str


@dataclass(frozen=True)
class Transient:
    """Might go through later: retried with a back-off."""

    error: BaseException


Outcome = Sent | FloodWait | Blocked | Moved | Failed | Transient


class ChannelSender(Protocol):
    """Renders a notice for its channel and sends it; never raises for the channel's own
    refusals (they are outcomes)."""

    channel: Channel

    async def send(self, row: OutboxMessage) -> Outcome: ...
