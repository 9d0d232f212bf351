"""The outbox worker: sends the outbox (`companion_bot.services.outbox`) through a channel's
sender (companion_bot/telegram_sender.py, companion_bot/whatsapp/sender.py), paced to the
channel's limits, and retries, whatever the channel: the sender says what became of each
message (`companion_bot.workers.outcomes`), the worker records it.

The outbox is a queue keyed by chat (`companion_bot.workers.queue`): a chat's messages go
one at a time and in order, while different chats go in parallel. A message left in flight
by a process that died goes back to the queue: it is the one duplicate a crash can cause.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.expressions import Q, Subquery
from tortoise.transactions import in_transaction

from companion_bot import faults
from companion_bot.models import OutboxMessage, OutboxStatus, Person
from companion_bot.prepared import Prepared
from companion_bot.services import outbox
from companion_bot.workers.outcomes import (
    Blocked,
    ChannelSender,
    Failed,
    FloodWait,
    Moved,
    Sent,
    Transient,
)
from companion_bot.workers.queue import (
    QueueService,
    QueueSpec,
    backoff,
    claim,
    give_up,
    outstanding,
    release,
    release_abandoned,
    retry_later,
    short_error,
    utcnow,
)
from companion_bot.workers.ratelimit import SharedRateLimiter

logger = logging.getLogger(__name__)

MESSAGES = QueueSpec(
    model=OutboxMessage,
    pending=OutboxStatus.PENDING,
    claimed=OutboxStatus.SENDING,
    done=OutboxStatus.SENT,
    given_up=OutboxStatus.FAILED,
    due_field="not_before",
    error_field="error",
    done_field="sent_at",
    order=("-priority", "id"),
    key_field="chat_id",
)


# Sent, with the message it became, if this worker still holds it: once per message.
_MARK_SENT = Prepared(
    OutboxMessage,
    lambda row_id, worker_id, now, message_id: MESSAGES.mine(row_id, worker_id).update(
        status=OutboxStatus.SENT, sent_at=now, telegram_message_id=message_id, error=None
    ),
    row_id=int,
    worker_id=str,
    now=datetime,
    message_id=int | None,
)


@dataclass
class OutboxCounters:
    """Since start, for a future /metrics endpoint."""

    sent: int = 0
    blocked: int = 0
    failed: int = 0
    retried: int = 0
    flood_waits: int = 0
    recovered: int = 0


class OutboxWorker(QueueService):
    """Sends one channel's outbox rows through its `sender` (TelegramSender,
    WhatsAppSender), paced to the channel's limits, and retries.

    Claims due rows (priority, then queue order), at most one per chat at a time, and none
    for a chat that had `per_chat_burst` messages in the last `per_chat_burst ×
    per_chat_interval` seconds (Telegram allows about one a second per chat, with short
    bursts: an answer and the next question go at once), so a chat's later messages wait in
    the queue instead of holding up everyone. `concurrency` is how many calls may be in
    flight: each one in flight when the process dies may be delivered twice, so the default
    (1) keeps that to one message; against a distant server, more keeps up the pace.
    Global pacing is the bot's rate limiter's job (`SharedRateLimiter`).
    """

    name = "outbox worker"
    signal = outbox.NEW_WORK

    def __init__(
        self,
        sender: ChannelSender,
        *,
        worker_id: str | None = None,
        concurrency: int = 1,
        lease: float = 60.0,
        poll_interval: float = 0.5,
        per_chat_interval: float = 1.0,
        per_chat_burst: int = 3,
        per_chat_margin: float = 0.1,
        batch_size: int = 25,
        claim_window: int = 100,
        max_attempts: int = 8,
        backoff_base: float = 2.0,
        backoff_cap: float = 60.0,
        sweep_interval: float = 5.0,
        stop_timeout: float = 10.0,
    ) -> None:
        super().__init__(worker_id, poll_interval, stop_timeout)
        self.sender = sender
        self.concurrency = max(1, concurrency)
        self.lease = lease
        self.per_chat_interval = per_chat_interval
        self.per_chat_burst = max(1, per_chat_burst)
        self.per_chat_margin = per_chat_margin
        self.batch_size = batch_size
        self.claim_window = claim_window
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sweep_interval = sweep_interval
        self.counters = OutboxCounters()
        self._paused_until = 0.0  # our own flood wait, when the bot has no SharedRateLimiter
        self._chat_sends: dict[int, deque[float]] = {}
        self._busy = False
        self._held_back = False  # see `_claim`

    @property
    def limiter(self) -> SharedRateLimiter | None:
        return getattr(self.sender, "limiter", None)

    async def stop(self) -> None:
        """Finish the message in flight, hand the rest of the batch back, stop."""
        await self._stop_loop()

    async def wait_idle(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - public API
        """Return once nothing is left to send now, by this or any other process.

        Messages being sent, due, or waiting to be retried count; messages queued for
        later (`not_before`, never tried) do not.
        """
        await self._wait_idle(timeout, lambda: self._busy, outstanding_messages)

    # -- the loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        next_sweep = 0.0
        while not self._stopping:
            try:
                if time.monotonic() >= next_sweep:
                    await self.recover()
                    next_sweep = time.monotonic() + self.sweep_interval
                if await self._wait_while_paused():
                    continue
                self._busy = True
                batch = await self._claim()
                if batch:
                    await self._send_batch(batch)
                if not batch or not self._held_back:  # else at once: rows were left behind
                    self._busy = False
                    self._progress.set()  # wait_idle may look now, while we sleep
                    await self._sleep(self._next_wakeup())
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("outbox worker: unexpected error; going on")
                await self._sleep(self.poll_interval)
            finally:
                self._busy = False
                self._progress.set()

    def _pause_remaining(self) -> float:
        own = self._paused_until - time.monotonic()
        shared = self.limiter.paused_for() if self.limiter else 0.0
        return max(0.0, own, shared)

    async def _wait_while_paused(self) -> bool:
        """Sleep out a flood wait; True if we slept (the caller re-checks everything)."""
        remaining = self._pause_remaining()
        if remaining <= 0:
            return False
        await self._sleep(remaining)
        return True

    @property
    def per_chat_window(self) -> float:
        """At most `per_chat_burst` messages to one chat within this many seconds (0: any)."""
        if self.per_chat_interval <= 0:
            return 0.0
        return self.per_chat_burst * self.per_chat_interval + self.per_chat_margin

    def _next_wakeup(self) -> float:
        now = time.monotonic()
        soonest = [
            sends[0] + self.per_chat_window - now
            for sends in self._chat_sends.values()
            if len(sends) >= self.per_chat_burst
        ]
        return min([self.poll_interval, *(wait for wait in soonest if wait > 0)])

    def _cooling_chats(self) -> set[int]:
        """Chats that had their burst of messages lately, as far as this process knows."""
        window = self.per_chat_window
        if window <= 0:
            return set()
        since = time.monotonic() - window
        for chat, sends in list(self._chat_sends.items()):
            while sends and sends[0] <= since:
                sends.popleft()
            if not sends:
                del self._chat_sends[chat]
        return {
            chat for chat, sends in self._chat_sends.items() if len(sends) >= self.per_chat_burst
        }

    # -- claiming ------------------------------------------------------------------------

    async def _claim(self) -> list[OutboxMessage]:
        """A batch; notes whether due rows were left behind (`_held_back`): a full batch, or a
        chat's messages beyond its burst. Then the worker looks again at once after the
        batch; else only when told of new work (an edit of a message being sent, say) or at
        its next wake-up, instead of an empty claim after every batch."""
        cooling = sorted(self._cooling_chats())
        seen = 0

        async def count(candidates: list[OutboxMessage], now: datetime) -> list[OutboxMessage]:
            nonlocal seen
            seen = len(candidates)
            return candidates

        batch = await claim(
            MESSAGES,
            self.worker_id,
            self.batch_size,
            window=self.claim_window,
            eligible=_sendable() & Q(channel=self.sender.channel),
            narrow=(lambda query: query.exclude(chat_id__in=cooling)) if cooling else None,
            choose=count,
            pace=(self.per_chat_burst, self.per_chat_window),
            per_key=self.per_chat_burst,  # an answer and the next question in one claim
        )
        self._held_back = seen > len(batch)
        return batch

    # -- sending -------------------------------------------------------------------------

    async def _send_batch(self, batch: list[OutboxMessage]) -> None:
        """Chats in parallel (`concurrency` calls at most), each chat's messages in order."""
        claimed_at = time.monotonic()
        chats: dict[int, list[OutboxMessage]] = {}
        for row in batch:
            chats.setdefault(row.chat_id, []).append(row)
        slots = asyncio.Semaphore(self.concurrency)
        left: list[OutboxMessage] = []

        def may_go_on() -> bool:
            return not (
                self._stopping
                or self._pause_remaining() > 0
                # Old claims may soon look abandoned to other processes: hand them back.
                or time.monotonic() - claimed_at > self.lease / 2
            )

        async def send_chat(rows: list[OutboxMessage]) -> None:
            for index, row in enumerate(rows):
                async with slots:
                    if not may_go_on():
                        left.extend(rows[index:])
                        return
                    if not await self._deliver(row):  # it waits: so do the ones after it
                        left.extend(rows[index + 1 :])
                        return

        tasks = [asyncio.create_task(send_chat(rows)) for rows in chats.values()]
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            raise
        finally:
            if left:
                await self._release(left)

    async def _deliver(self, row: OutboxMessage) -> bool:
        """Send one message and record the outcome; False when the next messages of its
        chat must wait (it goes back to the queue, to be retried first)."""
        try:
            if row.edit_of_id is not None and not await self._aim_edit(row):
                return True
            try:
                outcome = await self.sender.send(row)
            except Exception as error:
                logger.exception("outbox: unexpected error sending message %s", row.id)
                outcome = Transient(error)
            finally:
                # Counted from the answer, which comes after the channel saw the call.
                if self.per_chat_window > 0:
                    self._chat_sends.setdefault(row.chat_id, deque()).append(time.monotonic())
            match outcome:
                case Sent(delivered):
                    faults.reached("outbox.sent")
                    await self._on_sent(row, delivered)
                case FloodWait(seconds):
                    await self._on_flood_wait(row, seconds)
                    return False
                case Blocked(reason):
                    await self._on_blocked(row, reason)
                    return False
                case Moved(new_chat_id):
                    await self._on_migrated(row, new_chat_id)
                    return False
                case Failed(reason):
                    await self._on_failed(row, reason)
                case Transient(error):
                    await self._on_transient(row, error)
                    return False
            return True
        except asyncio.CancelledError:
            raise
        except Exception:  # recording the outcome failed (database down?): the lease recovers
            logger.exception("outbox: could not record the outcome of message %s", row.id)
            return False
        finally:
            self._progress.set()

    async def _aim_edit(self, row: OutboxMessage) -> bool:
        """An edit gets the id of the message it changes; when that message will never be
        sent (cancelled, failed, blocked, forgotten), the edit is cancelled: False."""
        target = await OutboxMessage.get_or_none(id=row.edit_of_id)
        if target is not None and target.status == OutboxStatus.SENT and target.telegram_message_id:
            row.payload = {**(row.payload or {}), "message_id": target.telegram_message_id}
            return True
        await self._mine(row).update(status=OutboxStatus.CANCELLED, error=NOTHING_TO_EDIT)
        return False

    def _mine(self, row: OutboxMessage) -> Any:
        """The row, if it is still ours (a lease may have expired meanwhile)."""
        return MESSAGES.mine(row.id, self.worker_id)

    async def _on_sent(self, row: OutboxMessage, delivered: outbox.Delivered) -> None:
        message_id = delivered.message_id
        row.status, row.sent_at, row.telegram_message_id = OutboxStatus.SENT, utcnow(), message_id
        updated = await _MARK_SENT.execute(
            row_id=row.id, worker_id=self.worker_id, now=row.sent_at, message_id=message_id
        )
        if not updated:
            logger.warning("outbox: message %s was reclaimed while being sent", row.id)
        self.counters.sent += 1
        hook = outbox.after_send_hook(row.purpose)
        if hook is not None:
            try:
                await hook(row, delivered)
            except Exception:
                logger.exception("outbox: after-send hook %r failed for %s", row.purpose, row.id)

    async def _on_flood_wait(self, row: OutboxMessage, seconds: float) -> None:
        """Everything waits; the message goes back to the queue, not counted as a failure."""
        self.counters.flood_waits += 1
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        logger.warning("outbox: flood wait of %.0f s; message %s goes back", seconds, row.id)
        await self._release([row])

    async def _on_blocked(self, row: OutboxMessage, why: str) -> None:
        """She blocked the bot (or the chat is gone): never retried, and nothing more to her."""
        now = utcnow()
        reason = short_error(why)
        async with in_transaction():
            await self._mine(row).update(status=OutboxStatus.BLOCKED, error=reason)
            # Her other messages, waiting or in this worker's hands (the rest of its batch).
            others = await OutboxMessage.filter(
                Q(status=OutboxStatus.PENDING)
                | Q(status=OutboxStatus.SENDING, claimed_by=self.worker_id),
                channel=row.channel,
                chat_id=row.chat_id,
            ).update(status=OutboxStatus.BLOCKED, error=reason)
            if (person := await outbox.recipient(row)) is not None:
                await Person.filter(id=person.id, blocked_bot_at__isnull=True).update(
                    blocked_bot_at=now
                )
        self.counters.blocked += 1 + others
        logger.info("outbox: a %s chat is unreachable (%s)", row.channel, why)

    async def _on_migrated(self, row: OutboxMessage, new_chat_id: int) -> None:
        """A group became a supergroup: its messages follow it to the new chat id."""
        async with in_transaction():
            await OutboxMessage.filter(
                channel=row.channel, chat_id=row.chat_id, status=OutboxStatus.PENDING
            ).update(chat_id=new_chat_id)
            await self._mine(row).update(
                chat_id=new_chat_id,
                status=OutboxStatus.PENDING,
                claimed_by=None,
                claimed_at=None,
            )

    async def _on_failed(self, row: OutboxMessage, why: str) -> None:
        await give_up(MESSAGES, row, self.worker_id, why)
        self.counters.failed += 1
        logger.warning("outbox: message %s failed: %s", row.id, why)

    async def _on_transient(self, row: OutboxMessage, error: BaseException) -> None:
        attempts = row.attempts + 1
        if attempts >= self.max_attempts:
            await give_up(MESSAGES, row, self.worker_id, error, attempts=attempts)
            self.counters.failed += 1
            logger.warning("outbox: message %s failed %d times: %s", row.id, attempts, error)
            return
        delay = backoff(attempts, self.backoff_base, self.backoff_cap)
        await retry_later(MESSAGES, row, self.worker_id, error, delay, attempts=attempts)
        self.counters.retried += 1
        logger.info("outbox: message %s retried in %.1f s (%s)", row.id, delay, short_error(error))

    async def _release(self, rows: Iterable[OutboxMessage]) -> None:
        await release(MESSAGES, list(rows), self.worker_id)

    # -- crash recovery ------------------------------------------------------------------

    async def recover(self) -> int:
        """Hand back messages left in flight by a dead process; returns how many.

        Each may have reached Telegram before its process died: the one duplicate a crash
        can cause.
        """
        count = await release_abandoned(MESSAGES, self.worker_id, self.lease)
        if count:
            self.counters.recovered += count
            logger.warning("outbox: %d message(s) left in flight by a stopped process", count)
        return count


UNSENT = (OutboxStatus.PENDING, OutboxStatus.SENDING)
NOTHING_TO_EDIT = "not sent: the message it edits was never sent"


def _sendable() -> Q:
    """Rows that may go now as far as other rows go: all but edits whose message is still
    waiting or being sent (they go once it is sent, and hold up nothing meanwhile)."""
    unsent = OutboxMessage.filter(status__in=UNSENT).values("id")
    return Q(edit_of_id__isnull=True) | ~Q(edit_of_id__in=Subquery(unsent))


async def outstanding_messages() -> bool:
    """Is anything being sent, due, or waiting to be retried?"""
    return await outstanding(MESSAGES)
