"""The inbox worker: handles stored updates (`companion_bot.inbox`), each person's one at a
time and in `update_id` order, different people in parallel, in any process.

Each update is handled in one database transaction with everything it causes — her answer,
her next step, the replies it queues in the outbox — and marked handled in that same
transaction. A crash before the commit leaves nothing behind: the update is handled again,
by this process after a restart or by another one. So effects never happen twice, and a
reply is lost only if the outbox loses it (it does not).

The claim counts as an attempt. An update whose handling fails (or kills the process) is
tried again with a back-off, `max_attempts` times in all; then it is parked (kept aside,
logged) and the person is told, and her later updates go on: one bad update never blocks
her.

Order across processes: the queue core hands out a person's updates one at a time (see
`companion_bot.workers.queue`). Two updates of one person may reach two processes at once
(webhook posts in parallel): when update N arrives before N-1 was stored, N waits up to
`gap_wait` seconds for it, so that her updates are handled in the order she sent them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from tortoise.transactions import in_transaction

from companion_bot import faults, inbox, wakeups
from companion_bot.models import InboxStatus, InboxUpdate
from companion_bot.prepared import Prepared
from companion_bot.workers.queue import (
    ConcurrentRunner,
    QueueSpec,
    backoff,
    claim_heads,
    give_up,
    release_unheld,
    retry_later,
    short_error,
    utcnow,
)

logger = logging.getLogger(__name__)

# A claimed update's handling transaction locks its row a moment after the claim commits.
HOLD_GRACE = 5.0
# Channels whose update ids count up one by one, so that a missing number means an update on
# its way (see `_claim`).
NUMBERED_CHANNELS = {"telegram"}
# How far back an update looks for a missing one before it (see `_claim`).
GAP_SPAN = 200

UPDATES = QueueSpec(
    model=InboxUpdate,
    pending=InboxStatus.PENDING,
    claimed=InboxStatus.HANDLING,
    done=InboxStatus.DONE,
    given_up=InboxStatus.PARKED,
    due_field="due_at",
    error_field="last_error",
    done_field="handled_at",
    order=("update_id", "id"),
    key_field="key",
    strict_order=True,
)


# Her update handled (its words dropped), if this worker still holds it.
_MARK_HANDLED = Prepared(
    InboxUpdate,
    lambda row_id, worker_id, now: UPDATES.mine(row_id, worker_id).update(
        status=InboxStatus.DONE, handled_at=now, payload=None, last_error=None
    ),
    row_id=int,
    worker_id=str,
    now=datetime,
)


# Held back while young (never tried, received within `gap_wait`) and a number is missing
# between the first update stored among the `GAP_SPAN` before it and it (see `_claim`).
_GAP_BEFORE = f"""
    c.channel IN ({", ".join(f"'{channel}'" for channel in sorted(NUMBERED_CHANNELS))})
    AND c.attempts = 0 AND c.received_at > :settled
    AND COALESCE((
        SELECT count(*) < c.update_id - min(g.update_id) FROM "{InboxUpdate._meta.db_table}" g
        WHERE g.channel = c.channel AND g.update_id >= c.update_id - {GAP_SPAN}
          AND g.update_id < c.update_id), FALSE)"""


class HandlingFailed(Exception):
    """A handler failed while handling an update (PTB reports it to the error handler
    instead of raising it): the update's transaction must roll back."""


@dataclass
class UpdateScope:
    """What the handling of one update leaves to do after its transaction committed (calls
    whose failure must not undo it, such as answering a button tap), and the handler error
    that must undo it."""

    after_commit: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    queued: set[object] = field(default_factory=set)  # what is in after_commit, to do once
    error: BaseException | None = None


_scope: ContextVar[UpdateScope | None] = ContextVar("update_scope", default=None)


def current_scope() -> UpdateScope | None:
    """The update being handled in this task, if any."""
    return _scope.get()


class Dispatcher(Protocol):
    """The channel's side: turn a stored update into effects, or tell her it was parked."""

    async def handle(self, row: InboxUpdate) -> None: ...

    async def parked(self, row: InboxUpdate) -> None: ...


@dataclass
class InboxCounters:
    handled: int = 0
    retried: int = 0
    parked: int = 0
    recovered: int = 0


class InboxWorker(ConcurrentRunner):
    name = "inbox worker"
    spec = UPDATES
    signal = inbox.NEW_WORK
    count_attempt = True

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        worker_id: str | None = None,
        concurrency: int = 8,
        lease: float = 120.0,
        poll_interval: float = 0.5,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        gap_wait: float = 1.0,
        sweep_interval: float = 10.0,
        stop_timeout: float = 10.0,
    ) -> None:
        super().__init__(
            worker_id=worker_id,
            concurrency=concurrency,
            lease=lease,
            poll_interval=poll_interval,
            sweep_interval=sweep_interval,
            stop_timeout=stop_timeout,
        )
        self.dispatcher = dispatcher
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.gap_wait = gap_wait
        self.counters = InboxCounters()

    def on_recovered(self, count: int) -> None:
        self.counters.recovered += count

    async def recover(self) -> int:
        """Also updates left in hand by a process that died on another host (their handling
        transaction holds a lock on their row; when nobody does, nobody handles them), and
        the purge of updates kept long enough (`inbox.purge`)."""
        count = await super().recover()
        await inbox.purge(utcnow())
        released = await release_unheld(UPDATES, self.worker_id, HOLD_GRACE)
        if released:
            self.on_recovered(released)
            logger.warning("inbox: %d update(s) left in hand by a stopped process", released)
        return count + released

    async def _claim(self, limit: int) -> list[InboxUpdate]:
        """The heads of their person's updates, in one statement (`claim_heads`). An update
        is held back while one made before it may still be on its way: a number missing
        before it (Telegram numbers updates one by one; WhatsApp's ids have no gaps to wait
        on). An update with nothing stored before it goes at once."""
        in_hand = list(self._running)
        gap: dict[str, Any] = {}
        if self.gap_wait > 0:  # else updates are stored in order (long polling)
            gap = {"hold_back": _GAP_BEFORE, "settled": utcnow() - timedelta(seconds=self.gap_wait)}
        claimed = await claim_heads(UPDATES, self.worker_id, limit, exclude=in_hand, **gap)
        # Her next update may wait behind one in hand: look again once one is done.
        self._look_again = bool(in_hand or claimed)
        return claimed

    async def _execute(self, row: InboxUpdate) -> None:
        if row.attempts > self.max_attempts:
            # Claimed more often than allowed: the last tries killed their process.
            await self._park(row, row.last_error or "its handling never finished")
            return
        scope = UpdateScope()
        token = _scope.set(scope)
        try:
            # What it queues (replies, tasks) wakes their workers once it is committed.
            with wakeups.deferred():
                async with in_transaction():
                    # Marked handled first, undone with the rest if handling fails: the
                    # UPDATE also locks the row until the commit, the sign on PostgreSQL
                    # that its worker is alive (`release_unheld`).
                    handled = await _MARK_HANDLED.execute(
                        row_id=row.id, worker_id=self.worker_id, now=utcnow()
                    )
                    if not handled:  # our claim was taken back meanwhile: it runs elsewhere
                        raise HandlingFailed("the claim was lost before handling")
                    await self.dispatcher.handle(row)
                    if scope.error is not None:
                        raise HandlingFailed(short_error(scope.error)) from scope.error
                    faults.reached("inbox.in_transaction")
                faults.reached("inbox.committed")  # its replies are not sent yet
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await UPDATES.mine(row.id, self.worker_id).update(
                    status=InboxStatus.PENDING, claimed_by=None, claimed_at=None
                )
            raise
        except Exception as error:
            await self._on_error(row, error)
            return
        finally:
            _scope.reset(token)
        self.counters.handled += 1
        for action in scope.after_commit:
            try:
                await action()
            except Exception as error:  # a late answer to a tap, say: the update is handled
                logger.info("inbox: after-commit call failed: %s", short_error(error))

    async def _on_error(self, row: InboxUpdate, error: Exception) -> None:
        cause = error.__cause__ if isinstance(error, HandlingFailed) and error.__cause__ else error
        if row.attempts >= self.max_attempts:
            logger.error(
                "inbox: update %s failed %d times, parked", row.update_id, row.attempts,
                exc_info=cause,
            )  # fmt: skip
            await self._park(row, cause)
            return
        delay = backoff(row.attempts, self.backoff_base, self.backoff_cap)
        await retry_later(UPDATES, row, self.worker_id, cause, delay, attempts=row.attempts)
        self.counters.retried += 1
        logger.warning(
            "inbox: update %s failed (%s), tried again in %.1f s",
            row.update_id, short_error(cause), delay,
        )  # fmt: skip

    async def _park(self, row: InboxUpdate, error: BaseException | str) -> None:
        if not await give_up(UPDATES, row, self.worker_id, error, handled_at=utcnow()):
            return
        self.counters.parked += 1
        try:
            with wakeups.deferred():
                async with in_transaction():
                    await self.dispatcher.parked(row)
        except Exception:
            logger.exception("inbox: could not tell the person her update %s failed", row.id)
